"""Atomic file replacement: a reader (or a process killed mid-write) sees the old bytes or the new, never a mix.

The bytes go to a temporary file in the same folder (same file system, so the rename is atomic), are flushed and
fsynced, the temporary file replaces the target with `os.replace`, and the folder itself is fsynced so the new
name survives a power cut. Standard library only (`picloss labels` and `picloss review` both write with it).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

TMP_PREFIX = ".tmp-"
NEW_FILE_MODE = 0o644


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp_name = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{target.name}.", dir=target.parent)
    try:
        try:  # mkstemp makes the file 0600: keep the target's mode, or the usual 0644 for a new file
            os.fchmod(fd, target.stat().st_mode & 0o777 if target.exists() else NEW_FILE_MODE)
        except (OSError, AttributeError):
            pass
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(target.parent)
    return target


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # a platform that cannot open folders (Windows): the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temporaries(folder: Path, name: str) -> int:
    """Delete the temporary files a killed writer of `folder/name` left behind; how many."""
    removed = 0
    for leftover in folder.glob(f"{TMP_PREFIX}{name}.*"):
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed += 1
    return removed

"""Loaded by every picloss process of the e2e stack (PYTHONPATH): with PICLOSS_AUDIT_WRITES_DIR set, a Python
audit hook appends the path of every file the process opens for writing to `<dir>/<pid>.txt`, so
tests/e2e/test_privacy_e2e.py can hold every process to "photos are never written down" (issue 23)."""

from __future__ import annotations

import os
import sys
import threading

_DIR = os.environ.get("PICLOSS_AUDIT_WRITES_DIR")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _install(directory: str) -> None:
    local = threading.local()
    record = os.path.join(directory, f"{os.getpid()}.txt")

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event != "open" or getattr(local, "busy", False):
            return
        path, mode, flags = args
        if not isinstance(path, str | bytes):
            return  # an already open descriptor
        writes = any(c in mode for c in "wax+") if isinstance(mode, str) else \
            isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
        if not writes:
            return
        local.busy = True
        try:
            with open(record, "a", encoding="utf-8") as out:
                out.write(f"{os.fsdecode(path)}\n")
        finally:
            local.busy = False

    with open(record, "a", encoding="utf-8") as out:  # proof the hook runs in this process
        out.write(f"# {' '.join(sys.orig_argv)}\n")
    sys.addaudithook(hook)


if _DIR:
    _install(_DIR)

"""Replace one `## ` section of a Markdown file, leaving every other section as it is."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from devkit.stack import REPO_ROOT


def replace_section(path: Path, heading: str, body: str, title: str = "# Benchmarks") -> None:
    """`heading` is the full line, e.g. '## Backbone (make bench)'; the section runs to the next '## '.
    A new file starts with `title`."""
    text = path.read_text(encoding="utf-8") if path.exists() else f"{title}\n"
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == heading), None)
    new = [heading, "", *body.rstrip("\n").splitlines(), ""]
    if start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines.extend(new)
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[start:end] = new
    path.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")


def stamp() -> str:
    """'2026-11-24 21:00 UTC, commit abc1234 (+ uncommitted changes)'."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " (+ uncommitted changes)" if git("status", "--porcelain") else ""
    return f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}{dirty}"

"""`make fuzz`: run the signed schemathesis fuzzer with FUZZ_CASES cases and record its tally in
docs/reliability.md (section '## Latest fuzz run')."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from bench.docs import replace_section, stamp
from devkit.stack import REPO_ROOT

HEADING = "## Latest fuzz run"
TALLY = re.compile(r"FUZZ TALLY cases=(\d+) accepted=(\d+) unsigned_refused=(\d+)")


def main() -> int:
    cases = os.environ.get("FUZZ_CASES", "10000")
    started = time.monotonic()
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("pytest")),
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "-o",
            "timeout=3600",
            # its own base dir: a concurrent pytest session prunes old /tmp/pytest-of-* dirs, PostgreSQL's too
            "--basetemp",
            "/tmp/picloss-fuzz-basetemp",
            "tests/e2e/fuzz",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "FUZZ_CASES": cases},
    )
    took = time.monotonic() - started
    out = proc.stdout + proc.stderr
    print(out[-4000:])
    found = TALLY.search(out)
    summary = (out.strip().splitlines() or ["no output"])[-1]
    if found:
        n, accepted, refused = (int(x) for x in found.groups())
        body = (
            f"{stamp()}; `make fuzz` with FUZZ_CASES={cases}: **{n} generated cases** in {took:.0f} s "
            f"(schemathesis adds its coverage and example phases to the requested count). "
            f"{accepted} signed cases accepted (valid requests or queries); "
            f"{refused} replays of the same bodies unsigned or with a wrong signature, all refused. "
            f"pytest: `{summary}`. A failure (5xx, schema violation, unsigned accept) fails the run."
        )
    else:
        body = f"{stamp()}: the fuzz run did not finish (pytest: `{summary}`); see its output."
    replace_section(REPO_ROOT / "docs" / "reliability.md", HEADING, body)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())

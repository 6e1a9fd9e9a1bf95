"""python -m devkit up|down --run-dir DIR"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devkit.stack import ENV_FILE_NAME, Stack, StackSettings, stop_recorded


def main() -> int:
    parser = argparse.ArgumentParser(prog="devkit")
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--run-dir", type=Path, default=Path(".run"))
    args = parser.parse_args()
    run_dir = args.run_dir.resolve()
    if args.command == "down":
        stopped = stop_recorded(run_dir)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    if (run_dir / "state.json").exists():
        print(f"a stack is already recorded in {run_dir}/state.json: run `make down` first", file=sys.stderr)
        return 1
    stack = Stack(StackSettings(run_dir=run_dir))
    try:
        stack.up()
    except Exception:
        stack.down()
        raise
    print(f"picloss is up. Gateway: {stack.gateway_url} (self-signed certificate {stack.cert_file})")
    print((run_dir / ENV_FILE_NAME).read_text(), end="")
    print(f"Settings written to {run_dir / ENV_FILE_NAME}; logs in {stack.logs}; stop with `make down`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

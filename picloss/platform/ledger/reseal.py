"""`python -m picloss.platform.ledger.reseal`: move every stored result to the newest data key (the first of
`PICLOSS_DATA_KEYS_FILE`), in batches, and seal the clear results of rows stored before sealing existed.

Run it after a rotation has put the new key first (the old keys stay in the file until it reports 0 left);
it may run beside the live services and be interrupted and run again. `--new-key ID` prints a keys-file entry
with a fresh random key and exits. Settings: DATABASE_URL, PICLOSS_DATA_KEYS_FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from picloss.platform.config import ConfigError, env_str
from picloss.platform.ledger.sealing import DataKeys, SealError, new_key_entry
from picloss.platform.ledger.store import Ledger


async def reseal_all(ledger: Ledger, keys: DataKeys, batch: int, wait_locked_s: float = 60.0) -> int:
    """Every result to `keys.current_id`; the number moved. A row held by a delivery at that moment is skipped by
    its batch (SKIP LOCKED): the passes go on until none is left, for up to `wait_locked_s` more."""
    total = 0
    deadline = time.monotonic() + wait_locked_s
    while True:
        while moved := await ledger.reseal(keys, batch):
            total += moved
        left = await ledger.to_reseal(keys.current_id)
        if not left:
            return total
        if time.monotonic() > deadline:
            raise SealError(f"{left} results still held by other transactions; run the re-seal again")
        await asyncio.sleep(0.5)


async def _run(batch: int) -> int:
    keys = DataKeys.from_env()
    ledger = await Ledger.connect(env_str("DATABASE_URL"), max_size=2)
    try:
        total = await reseal_all(ledger, keys, batch)
    finally:
        await ledger.close()
    print(f"resealed {total} results under data key {keys.current_id!r}; 0 left under other keys")
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m picloss.platform.ledger.reseal",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=200, help="rows per transaction (default 200)")
    parser.add_argument("--new-key", metavar="ID", help="print a new keys-file entry with a random key, and exit")
    args = parser.parse_args(argv)
    try:
        if args.new_key:
            print(json.dumps(new_key_entry(args.new_key)))
            return 0
        asyncio.run(_run(max(1, args.batch)))
    except (ConfigError, SealError) as exc:
        print(f"reseal: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

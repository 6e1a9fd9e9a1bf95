"""The one canonical serialisation of responses and callbacks.

The signature covers the exact bytes sent, so a body is serialised once, with `dumps`,
then signed and sent as those same bytes.
"""

from __future__ import annotations

import json
from typing import Any

CONTENT_TYPE = "text/json; charset=utf-8"
ACCEPTED_CONTENT_TYPES = ("text/json", "application/json")


def dumps(obj: Any) -> bytes:
    """UTF-8 JSON, non-ASCII kept as is, compact separators, key order as given, no NaN."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def canonical_dumps(obj: Any) -> bytes:
    """Like `dumps` with sorted keys: a stable form for hashing (not for the wire)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                      sort_keys=True).encode("utf-8")

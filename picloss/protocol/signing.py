"""HMAC-SHA256 signatures of raw bodies (PROTOCOL §2): the `Signature` header.

The signed string is the exact body bytes as sent; the key is the UTF-8 encoding of
the (appid, mchid) secret. Signatures are upper-case hex; verification accepts either case.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

SIGNATURE_HEADER = "Signature"
SIGNATURE_HEX_LENGTH = 64
NONCE_MAX_LENGTH = 32
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def sign(body: bytes, key: str) -> str:
    """Upper-case hex HMAC-SHA256 of `body` with `key`."""
    return hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest().upper()


def verify(body: bytes, signature: str | None, keys: Sequence[str]) -> bool:
    """True when `signature` is the HMAC of `body` under any of `keys` (key rotation).

    Every key is compared, in constant time, so the answer's timing does not reveal which
    key (if any) matched.
    """
    if not signature or len(signature) != SIGNATURE_HEX_LENGTH or not _HEX_DIGITS.issuperset(signature):
        return False
    presented = signature.upper().encode("ascii")
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(sign(body, key).encode("ascii"), presented)
    return matched


def new_nonce() -> str:
    """A random nonce of 32 hex characters (128 bits)."""
    return secrets.token_hex(NONCE_MAX_LENGTH // 2)

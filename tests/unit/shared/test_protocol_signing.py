"""Signing vectors computed independently with `openssl dgst -sha256 -hmac KEY` on the exact bytes."""

from __future__ import annotations

import pytest

from picloss.protocol.signing import new_nonce, sign, verify

ASCII_BODY = b'{"appid":"app1","mchid":"m1"}'
ASCII_SIG = "5C7D5BBBB3B39D36A2DB2968B5D830D08540D3215B96E247CF9FF999E399C690"  # key secret-key-1
CHINESE_BODY = '{"appid":"项目一","result_msg":"定损成功","nonce":"abc"}'.encode()
CHINESE_SIG = "CE3FEF99A920928EBB7D0AEA0498D2333EC95CFD9A5B3ED38320BCFBD1EE1F6E"  # key 密钥-2024
EMPTY_SIG = "8BB990C40A7D61CB97597A942125025BE50AC8BEB74436E3735B98893A7F6620"  # key k
# key "key": the well-known HMAC-SHA256 example vector
FOX_SIG = "F7BC83F430538424B13298E6AA6FB143EF4D59A14946175997479DBC2D1A3CD8"


@pytest.mark.parametrize(("body", "key", "expected"), [
    (ASCII_BODY, "secret-key-1", ASCII_SIG),
    (CHINESE_BODY, "密钥-2024", CHINESE_SIG),
    (b"", "k", EMPTY_SIG),
    (b"The quick brown fox jumps over the lazy dog", "key", FOX_SIG),
], ids=["ascii", "utf8-chinese-body-and-key", "empty-body", "rfc-fox"])
def test_sign_matches_independent_vectors(body: bytes, key: str, expected: str) -> None:
    assert sign(body, key) == expected


def test_verify_accepts_upper_and_lower_case_hex() -> None:
    assert verify(CHINESE_BODY, CHINESE_SIG, ["密钥-2024"])
    assert verify(CHINESE_BODY, CHINESE_SIG.lower(), ["密钥-2024"])


def test_verify_accepts_any_key_of_the_pair_during_rotation() -> None:
    assert verify(ASCII_BODY, ASCII_SIG, ["new-key", "secret-key-1"])
    assert verify(ASCII_BODY, ASCII_SIG, ["secret-key-1", "new-key"])
    assert verify(ASCII_BODY, sign(ASCII_BODY, "new-key"), ["new-key", "secret-key-1"])


@pytest.mark.parametrize("signature", [
    None, "", "garbage", ASCII_SIG[:-1], ASCII_SIG + "0", ASCII_SIG[:-1] + "G", " " + ASCII_SIG[1:],
    CHINESE_SIG,
], ids=["none", "empty", "not-hex", "short", "long", "non-hex-char", "space", "other-body"])
def test_verify_refuses_malformed_or_foreign_signatures(signature: str | None) -> None:
    assert not verify(ASCII_BODY, signature, ["secret-key-1"])


def test_verify_refuses_wrong_key_and_empty_key_list() -> None:
    assert not verify(ASCII_BODY, ASCII_SIG, ["wrong-key"])
    assert not verify(ASCII_BODY, ASCII_SIG, [])


def test_signature_covers_the_exact_bytes() -> None:
    reserialised = b'{"appid": "app1", "mchid": "m1"}'  # same JSON value, different bytes
    assert not verify(reserialised, ASCII_SIG, ["secret-key-1"])


def test_new_nonce_is_random_and_fits_the_protocol() -> None:
    nonces = {new_nonce() for _ in range(100)}
    assert len(nonces) == 100
    assert all(1 <= len(n) <= 32 and n.isascii() and n.isalnum() for n in nonces)

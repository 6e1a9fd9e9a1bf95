"""The invalid-field table shared by the validation and schema tests: every field of both request kinds."""

from __future__ import annotations

import copy
from typing import Any

MISSING = object()
Path = tuple[str | int, ...]


def mutate(body: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    target: Any = body
    for step in path[:-1]:
        target = target[step]
    if value is MISSING:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


def field_name(path: Path) -> str:
    name = ""
    for step in path:
        name += f"[{step}]" if isinstance(step, int) else (f".{step}" if name else step)
    return name


def url_of_length(n: int) -> str:
    prefix = "https://h.example/"
    return prefix + "路" * (n - len(prefix))  # non-ASCII: limits count characters, not bytes


STRINGS: list[tuple[Path, int]] = [(("appid",), 64), (("mchid",), 32), (("nonce",), 32)]
WRONG_TYPES_FOR_STRING = [123, 1.5, True, ["x"], {"x": 1}]
WRONG_TIMESTAMPS = ["1732000000", 1732000000.0, 1.5, True, False, [1], {"t": 1}, -1, 2**63]


def invalid_cases(kind: str) -> list[tuple[str, Path, Any]]:
    """(case id, path, bad value) for every field of the request kind."""
    cases: list[tuple[str, Path, Any]] = []
    required: list[tuple[Path, int]] = list(STRINGS)
    if kind == "loss":
        required += [(("model",), 16), (("req_seqno",), 64)]
    for path, limit in required:
        cases += [("missing", path, MISSING), ("null", path, None), ("empty", path, ""),
                  ("too-long", path, "汉" * (limit + 1)), ("control-char", path, "a\x00b"),
                  ("lone-surrogate", path, "a\ud800")]
        cases += [(f"type-{type(v).__name__}", path, v) for v in WRONG_TYPES_FOR_STRING]
    cases += [("missing", ("timestamp",), MISSING), ("null", ("timestamp",), None)]
    cases += [(f"bad-{v!r}", ("timestamp",), v) for v in WRONG_TIMESTAMPS]
    if kind == "loss":
        cases += [("wrong-value", ("model",), "MULTI"), ("lower-case", ("model",), "single")]
        cases += [("missing", ("files",), MISSING), ("null", ("files",), None), ("empty", ("files",), []),
                  ("type-object", ("files",), {"fileurl": "https://a.example/x"}),
                  ("type-string", ("files",), "https://a.example/x"),
                  ("too-many", ("files",), [{"fileurl": f"https://a.example/{i}"} for i in range(101)]),
                  ("item-not-object", ("files", 1), "https://a.example/x")]
        for path in [("files", 1, "fileurl"), ("callback_url",)]:
            cases += [("missing", path, MISSING), ("null", path, None), ("empty", path, ""),
                      ("too-long", path, url_of_length(257))]
            cases += [(f"type-{type(v).__name__}", path, v) for v in WRONG_TYPES_FOR_STRING]
            cases += [(f"bad-url-{i}", path, v) for i, v in enumerate([
                "cos.example.com/a.jpg", "/a.jpg", "ftp://h.example/a", "file:///etc/passwd", "https://",
                "https:///path", "https://h.example/a b", "https://h.example:99999/a", "https://h.example\\@x/",
                "javascript:alert(1)", "https://h.example/\n"])]
        md5 = ("files", 1, "filemd5")
        cases += [("too-long", md5, "a" * 33), ("short", md5, "a" * 31), ("not-hex", md5, "g" * 32)]
        cases += [(f"type-{type(v).__name__}", ("files", 1, "filemd5"), v) for v in WRONG_TYPES_FOR_STRING]
        fileid = ("files", 1, "fileid")
        cases += [("too-long", fileid, "汉" * 33), ("control-char", fileid, "\t")]
        cases += [(f"type-{type(v).__name__}", ("files", 1, "fileid"), v) for v in WRONG_TYPES_FOR_STRING]
    else:
        for path in [("req_seqno",), ("accept_seqno",)]:
            cases += [("too-long", path, "汉" * 65), ("control-char", path, "\x7f")]
            cases += [(f"type-{type(v).__name__}", path, v) for v in WRONG_TYPES_FOR_STRING]
    return cases




LOSS_CASES = invalid_cases("loss")
QUERY_CASES = invalid_cases("query")

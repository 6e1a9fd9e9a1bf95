"""The orchestrator decodes photos in worker threads (asyncio.to_thread), several at once. A bomb must end
1004 however many other photos are being decoded beside it.

Fails today: `decode_image` turns DecompressionBombWarning into an error with `warnings.catch_warnings()`,
which changes the process-wide filter list and is not thread-safe; while one thread is inside it, another
thread's `probe_size` sees the warning raised as an exception, catches it as "not decodable" and answers
1003 (see the issue-6 report)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from hostile_forge import jpeg, png_bomb

from picloss.platform.imaging import ImageRejected, decode_image
from picloss.protocol.codes import FileCode

pytestmark = pytest.mark.integration


def code_of(data: bytes) -> int:
    try:
        decode_image(data)
    except ImageRejected as exc:
        return exc.code
    return int(FileCode.OK)


def test_bomb_beside_concurrent_decodes_is_always_too_large() -> None:
    good, bomb = jpeg(1600, 1200), png_bomb(10_000, 10_000)  # 100 MP: over PIL's warning limit, under 2x
    assert code_of(bomb) == FileCode.TOO_LARGE  # alone: right
    work = [good, bomb] * 40
    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(pool.map(code_of, work))
    bomb_codes = sorted(set(codes[1::2]))
    assert set(codes[0::2]) == {FileCode.OK}
    assert bomb_codes == [FileCode.TOO_LARGE], f"bomb codes under concurrency: {bomb_codes}"

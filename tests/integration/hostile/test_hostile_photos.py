"""Hostile photos through the orchestrator's download and decode path (PhotoFetcher + decode_image):
each ends with the right per-file code (1001 download failed, 1003 not decodable, 1004 too large,
0 otherwise) within the configured timeout, and a bad photo never holds up a good one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from hostile_forge import animated_gif, jpeg, jpeg_bomb, megapixels_jpeg, png_bomb
from hostile_server import HostileServer

from picloss.engines.pipeline.fetch import FetchFailed, PhotoFetcher
from picloss.platform.imaging import DEFAULT_MAX_PIXELS, ImageRejected, decode_image
from picloss.platform.netguard import parse_cidrs
from picloss.protocol.codes import FileCode

pytestmark = pytest.mark.integration

TIMEOUT_S = 2.0
MAX_BYTES = 8 * 1024 * 1024
LOCAL_ONLY = parse_cidrs(["127.0.0.1/32"])  # the test server's address, nothing else


@pytest.fixture
async def server() -> AsyncIterator[HostileServer]:
    srv = await HostileServer().start()
    yield srv
    await srv.stop()


async def file_code(
    url: str, allow: tuple = LOCAL_ONLY, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[int, float]:
    """(per-file code, seconds taken) the way the pipeline decides it: download, then decode."""
    started = time.monotonic()
    async with PhotoFetcher(allow=allow, timeout_s=TIMEOUT_S, max_bytes=MAX_BYTES) as fetcher:
        try:
            fetched = await fetcher.fetch(url)
            await asyncio.to_thread(decode_image, fetched.data, max_pixels)
            code = int(FileCode.OK)
        except FetchFailed as exc:
            code = int(exc.code)
        except ImageRejected as exc:
            code = exc.code
    return code, time.monotonic() - started


@pytest.mark.parametrize(
    ("name", "body", "content_type", "expected"),
    [
        ("ok.jpg", jpeg(64, 48), "image/jpeg", FileCode.OK),
        ("truncated.jpg", jpeg(256, 256)[:300], "image/jpeg", FileCode.NOT_AN_IMAGE),
        ("zero.jpg", b"", "image/jpeg", FileCode.NOT_AN_IMAGE),
        ("page.jpg", b"<html><body>not a photo</body></html>", "image/jpeg", FileCode.NOT_AN_IMAGE),
        ("photo-as-html", jpeg(64, 48), "text/html", FileCode.OK),  # the bytes decide, not the header
        ("bomb-100mp.png", png_bomb(10_000, 10_000), "image/png", FileCode.TOO_LARGE),
        ("bomb-100mp.jpg", jpeg_bomb(10_000, 10_000), "image/jpeg", FileCode.TOO_LARGE),
        # over PIL's own hard limit (2 x MAX_IMAGE_PIXELS): Image.open itself raises DecompressionBombError
        ("bomb-10gp.png", png_bomb(100_000, 100_000), "image/png", FileCode.TOO_LARGE),
        ("bomb-3.6gp.jpg", jpeg_bomb(60_000, 60_000), "image/jpeg", FileCode.TOO_LARGE),
        ("animated.gif", animated_gif(), "image/gif", FileCode.OK),
        ("cmyk.jpg", jpeg(64, 48, mode="CMYK"), "image/jpeg", FileCode.OK),
        ("huge-bytes.jpg", jpeg(64, 48) + b"\0" * (MAX_BYTES + 1), "image/jpeg", FileCode.TOO_LARGE),
    ],
)
async def test_photo_ends_with_the_right_code(
    server: HostileServer, name: str, body: bytes, content_type: str, expected: int
) -> None:
    code, took = await file_code(server.serve(name, body, content_type))
    assert code == expected
    assert took < TIMEOUT_S + 1


async def test_bombs_are_refused_from_the_header_fast() -> None:
    """Fails today for the two biggest bombs: picloss.platform.imaging.probe_size turns PIL's DecompressionBombError
    (raised by Image.open over 2 x MAX_IMAGE_PIXELS) into 1003 instead of 1004 (see the issue-6 report)."""
    for bomb in (png_bomb(10_000, 10_000), jpeg_bomb(10_000, 10_000), png_bomb(), jpeg_bomb()):
        started = time.monotonic()
        with pytest.raises(ImageRejected) as err:
            decode_image(bomb)
        assert err.value.code == FileCode.TOO_LARGE
        assert time.monotonic() - started < 0.5


def test_cmyk_and_animated_decode_to_rgb() -> None:
    assert decode_image(jpeg(64, 48, mode="CMYK")).rgb.shape == (48, 64, 3)
    gif = decode_image(animated_gif())
    assert gif.rgb.shape == (24, 32, 3) and gif.format == "GIF"


def test_exif_rotation_is_applied() -> None:
    plain = decode_image(jpeg(80, 40))
    rotated = decode_image(jpeg(80, 40, exif_orientation=6))  # 90° clockwise
    assert (plain.width, plain.height) == (80, 40)
    assert (rotated.width, rotated.height) == (40, 80)


async def test_50_megapixel_photo_decodes_and_a_smaller_limit_refuses_it(server: HostileServer) -> None:
    url = server.serve("50mp.jpg", megapixels_jpeg(50))
    code, took = await file_code(url)
    assert code == FileCode.OK
    assert took < 30
    code, _ = await file_code(url, max_pixels=40_000_000)
    assert code == FileCode.TOO_LARGE


@pytest.mark.parametrize(
    "private",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/a.jpg",
        "http://127.0.0.2:9/a.jpg",
        "http://[::1]/a.jpg",
        "file:///etc/passwd",
    ],
)
async def test_redirect_to_a_private_address_is_refused(server: HostileServer, private: str) -> None:
    server.serve("target.jpg", jpeg(32, 32))
    code, took = await file_code(server.redirect("hop", private))
    assert code == FileCode.DOWNLOAD_FAILED
    assert took < TIMEOUT_S + 1


async def test_redirect_chain_within_allowed_addresses_is_followed(server: HostileServer) -> None:
    server.serve("final.jpg", jpeg(32, 32))
    server.redirect("hop2", server.url("final.jpg"))
    code, _ = await file_code(server.redirect("hop1", "/hop2"))
    assert code == FileCode.OK


async def test_redirect_loop_ends_in_download_failed(server: HostileServer) -> None:
    server.redirect("loop", "/loop")
    code, took = await file_code(server.url("loop"))
    assert code == FileCode.DOWNLOAD_FAILED
    assert took < TIMEOUT_S + 1


async def test_dns_name_resolving_to_loopback_is_refused(server: HostileServer) -> None:
    url = server.serve("local.jpg", jpeg(32, 32), "image/jpeg").replace("127.0.0.1", "localhost")
    code, took = await file_code(url, allow=())
    assert code == FileCode.DOWNLOAD_FAILED
    assert took < TIMEOUT_S + 1


@pytest.mark.parametrize("path", ["slowloris", "silent"])
async def test_slow_server_ends_in_download_failed_within_the_timeout(
    server: HostileServer, path: str
) -> None:
    code, took = await file_code(server.url(path))
    assert code == FileCode.DOWNLOAD_FAILED
    assert TIMEOUT_S - 0.2 <= took < TIMEOUT_S + 1


async def test_a_slow_photo_does_not_hold_up_a_good_one(server: HostileServer) -> None:
    good = server.serve("good.jpg", jpeg(64, 48))
    slow_task = asyncio.create_task(file_code(server.url("slowloris")))
    await asyncio.sleep(0.1)
    code, took = await file_code(good)
    assert code == FileCode.OK and took < 1.0
    assert (await slow_task)[0] == FileCode.DOWNLOAD_FAILED

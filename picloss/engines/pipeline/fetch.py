"""Photo download: SSRF guard, redirects re-checked, size limit while streaming, total timeout, md5."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from urllib.parse import urljoin

import aiohttp

from picloss.platform.netguard import BlockedAddress, Network, check_url, guarded_connector_kwargs
from picloss.protocol.codes import FileCode

MAX_REDIRECTS = 5


@dataclass(frozen=True)
class Fetched:
    data: bytes
    md5: str


class FetchFailed(Exception):
    def __init__(self, code: FileCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class PhotoFetcher:
    def __init__(self, *, allow: tuple[Network, ...], timeout_s: float, max_bytes: int) -> None:
        self._allow = allow
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(5.0, timeout_s))
        self._max_bytes = max_bytes
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> PhotoFetcher:
        connector = aiohttp.TCPConnector(limit=32, **guarded_connector_kwargs(self._allow))
        self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout,
                                              headers={"User-Agent": "picloss-fetch/1"})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def fetch(self, url: str) -> Fetched:
        assert self._session is not None, "use `async with PhotoFetcher(...)`"
        try:
            async with asyncio.timeout(self._timeout.total):
                return await self._follow(url)
        except TimeoutError as exc:
            raise FetchFailed(FileCode.DOWNLOAD_FAILED, "download timed out") from exc

    async def _follow(self, url: str) -> Fetched:
        assert self._session is not None
        for _ in range(MAX_REDIRECTS + 1):
            try:
                check_url(url, self._allow)
                async with self._session.get(url, allow_redirects=False) as resp:
                    if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                        url = urljoin(url, resp.headers["Location"])
                        continue
                    if resp.status != 200:
                        raise FetchFailed(FileCode.DOWNLOAD_FAILED, f"HTTP {resp.status}")
                    if resp.content_length is not None and resp.content_length > self._max_bytes:
                        raise FetchFailed(FileCode.TOO_LARGE, f"file over {self._max_bytes} bytes")
                    return await self._read(resp)
            except BlockedAddress as exc:
                raise FetchFailed(FileCode.DOWNLOAD_FAILED, f"refused: {exc}") from exc
            except (aiohttp.ClientError, OSError) as exc:
                cause = exc.__cause__ or exc.__context__
                if isinstance(cause, BlockedAddress):
                    raise FetchFailed(FileCode.DOWNLOAD_FAILED, f"refused: {cause}") from exc
                raise FetchFailed(FileCode.DOWNLOAD_FAILED, f"{type(exc).__name__}: {exc}"[:200]) from exc
        raise FetchFailed(FileCode.DOWNLOAD_FAILED, f"more than {MAX_REDIRECTS} redirects")

    async def _read(self, resp: aiohttp.ClientResponse) -> Fetched:
        digest = hashlib.md5(usedforsecurity=False)
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(65536):
            size += len(chunk)
            if size > self._max_bytes:
                raise FetchFailed(FileCode.TOO_LARGE, f"file over {self._max_bytes} bytes")
            digest.update(chunk)
            chunks.append(chunk)
        return Fetched(b"".join(chunks), digest.hexdigest())

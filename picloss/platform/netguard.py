"""SSRF guard for outgoing HTTP (photo downloads and callbacks).

Every address a host name resolves to must be public unless it falls in an allow-listed CIDR:
loopback, private, link-local (cloud metadata 169.254.169.254 included), CGNAT, multicast,
reserved and unspecified addresses are refused. The check runs in the resolver, so the
connection goes to an address that was checked (no DNS-rebinding window), and on every
redirect hop, which the caller follows by hand.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class BlockedAddress(ValueError):
    """The URL points at an address the guard refuses."""


def parse_cidrs(items: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


def is_public(addr: IPAddress) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return is_public(addr.ipv4_mapped)
    return not (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast
                or addr.is_reserved or addr.is_unspecified or addr in _CGNAT) and addr.is_global


def check_address(addr: IPAddress, allow: Sequence[Network]) -> None:
    if any(addr in net for net in allow if addr.version == net.version):
        return
    if not is_public(addr):
        raise BlockedAddress(f"address {addr} is not public and not allow-listed")


def check_url(url: str, allow: Sequence[Network]) -> None:
    """Scheme and literal-IP check before any connection (a name is checked by the resolver)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedAddress(f"not an http(s) URL: {url[:80]}")
    try:
        addr = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return
    check_address(addr, allow)


PLAIN_HTTP_REFUSED = "must be https (plain http only to an address the operator allow-listed)"


def plain_http_allowed(url: str, allow: Sequence[Network]) -> bool:
    """Callbacks carry personal data, and the protocol's transport is HTTPS: a callback URL is https, or plain
    http to an IP literal inside an allow-listed CIDR (a receiver on the cluster's own network). A host *name*
    over plain http is refused: what it resolves to is not known when the request is accepted."""
    parts = urlsplit(url)
    if parts.scheme.lower() == "https":
        return True
    try:
        addr = ipaddress.ip_address(parts.hostname or "")
    except ValueError:
        return False
    return any(addr in net for net in allow)


def check_callback_url(url: str, allow: Sequence[Network]) -> None:
    """`check_url` plus the HTTPS rule of `plain_http_allowed` (the dispatcher, before each attempt)."""
    check_url(url, allow)
    if not plain_http_allowed(url, allow):
        raise BlockedAddress(f"callback_url: {PLAIN_HTTP_REFUSED}")


class GuardedResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then refuses any non-allowed address."""

    def __init__(self, allow: Sequence[Network]) -> None:
        self._allow = tuple(allow)
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            check_address(ipaddress.ip_address(result["host"]), self._allow)
        return results

    async def close(self) -> None:
        await self._inner.close()


def guarded_connector_kwargs(allow: Sequence[Network]) -> dict[str, Any]:
    return {"resolver": GuardedResolver(allow), "use_dns_cache": False}

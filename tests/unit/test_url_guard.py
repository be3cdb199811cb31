"""IPv6 addresses that carry an IPv4 address are judged by that IPv4 address (issue 11, finding 9).

Python 3.11 counts ``::127.0.0.1`` (IPv4-compatible) and ``64:ff9b:1::7f00:1`` (local-use NAT64) as ``is_global``.
One function, ``url_guard.is_public_address``, decides for every check: downloads, their redirects (test_safe_fetch)
and producers' callback URLs, both when given and at send time.
"""

from __future__ import annotations

import ipaddress

import pytest

from shared.config import load_settings
from shared.errors import ValidationError
from shared.net import callback_urls
from shared.net.url_guard import DownloadRefused, check_url, embedded_ipv4, is_public_address


def teredo(server: str, client: str) -> str:
    """A Teredo address (RFC 4380): 2001:0::/32, the server's IPv4, flags, then port and client, both inverted."""
    number = (0x2001_0000 << 96 | int(ipaddress.IPv4Address(server)) << 64 | 0xFFFF << 32
              | int(ipaddress.IPv4Address(client)) ^ 0xFFFF_FFFF)
    return str(ipaddress.IPv6Address(number))


# (form, address, the IPv4 address it carries, public?)
EMBEDDED = [
    ("IPv4-mapped", "::ffff:127.0.0.1", "127.0.0.1", False),
    ("IPv4-mapped", "::ffff:8.8.8.8", "8.8.8.8", True),
    ("IPv4-compatible", "::127.0.0.1", "127.0.0.1", False),
    ("IPv4-compatible", "::10.1.2.3", "10.1.2.3", False),
    ("IPv4-compatible", "::8.8.8.8", "8.8.8.8", True),
    ("NAT64 well-known", "64:ff9b::7f00:1", "127.0.0.1", False),
    ("NAT64 well-known", "64:ff9b::a9fe:a9fe", "169.254.169.254", False),
    ("NAT64 well-known", "64:ff9b::808:808", "8.8.8.8", True),
    ("NAT64 local-use", "64:ff9b:1::7f00:1", "127.0.0.1", False),
    ("NAT64 local-use", "64:ff9b:1::c0a8:1", "192.168.0.1", False),
    ("NAT64 local-use", "64:ff9b:1::808:808", "8.8.8.8", True),
    ("6to4", "2002:7f00:1::", "127.0.0.1", False),
    ("6to4", "2002:a00:1::1", "10.0.0.1", False),
    ("6to4", "2002:808:808::", "8.8.8.8", True),
    ("Teredo", teredo("8.8.4.4", "127.0.0.1"), "127.0.0.1", False),
    ("Teredo", teredo("10.0.0.1", "8.8.8.8"), "10.0.0.1", False),  # a private Teredo server refuses it too
    ("Teredo", teredo("8.8.4.4", "8.8.8.8"), "8.8.8.8", True),
]
REFUSED = [row for row in EMBEDDED if not row[3]]
ALLOWED = [row for row in EMBEDDED if row[3]]


def ids(rows: list[tuple[str, str, str, bool]]) -> list[str]:
    return [f"{form} {address}" for form, address, _, _ in rows]


@pytest.mark.parametrize(("form", "address", "ipv4", "public"), EMBEDDED, ids=ids(EMBEDDED))
def test_the_guard_judges_an_embedded_ipv4_address(form: str, address: str, ipv4: str, public: bool) -> None:
    ipv6 = ipaddress.IPv6Address(address)
    assert ipaddress.IPv4Address(ipv4) in embedded_ipv4(ipv6)
    assert is_public_address(ipv6) is public


def test_every_form_has_a_refused_and_an_allowed_row() -> None:
    forms = {form for form, *_ in EMBEDDED}
    assert forms == {form for form, *_ in REFUSED} == {form for form, *_ in ALLOWED}


@pytest.mark.parametrize("address", [
    "64:ff9b:1:7f00:0:100::",  # 127.0.0.1 in the /48 layout of the local-use prefix
    "64:ff9b:1:7f:0:1::",  # 127.0.0.1 in the /56 layout
    "64:ff9b:1:808:8:800::",  # 8.8.8.8 in the /48 layout, but the /96 reading is 0.0.0.0: ambiguous, refused
    "64:ff9b:0:0:1::",  # in 64:ff9b::/32 outside the /96: IETF-reserved
    "::ffff:0:7f00:1",  # IPv4-translated (RFC 2765): reserved
    "::", "::1", "100::1", "ff02::1",
])
def test_other_readings_and_reserved_ranges_are_refused(address: str) -> None:
    assert not is_public_address(ipaddress.IPv6Address(address))


@pytest.mark.parametrize("address", ["2606:4700::6810:1", "2a00:1450:4001:80b::200e", "2001:4860:4860::8888"])
def test_plain_public_ipv6_is_allowed(address: str) -> None:
    assert embedded_ipv4(ipaddress.IPv6Address(address)) == ()
    assert is_public_address(ipaddress.IPv6Address(address))


# --- through each entry point ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("form", "address", "ipv4", "public"), EMBEDDED, ids=ids(EMBEDDED))
def test_downloads_check_the_addresses_a_name_resolves_to(form: str, address: str, ipv4: str, public: bool) -> None:
    def resolve(host: str, port: int) -> list[str]:
        return [address]

    url = "https://cdn1.suno.ai/a.mp3"
    if public:
        checked = check_url(url, {"cdn1.suno.ai"}, allow_private_for=set(), resolve=resolve)
        assert ipaddress.ip_address(checked) == ipaddress.ip_address(address)
    else:
        with pytest.raises(DownloadRefused, match="non-public address"):
            check_url(url, {"cdn1.suno.ai"}, allow_private_for=set(), resolve=resolve)


@pytest.mark.parametrize(("form", "address", "ipv4", "public"), REFUSED, ids=ids(REFUSED))
def test_an_allowlisted_ipv6_literal_is_still_refused(form: str, address: str, ipv4: str, public: bool) -> None:
    with pytest.raises(DownloadRefused, match="non-public address"):
        check_url(f"http://[{address}]:8080/a", {address}, allow_private_for=set(), resolve=_no_lookup)


def _no_lookup(host: str, port: int) -> list[str]:
    raise AssertionError(f"an IP literal must not be looked up: {host}")


PLAIN = load_settings({})


@pytest.mark.parametrize(("form", "address", "ipv4", "public"), EMBEDDED, ids=ids(EMBEDDED))
def test_callback_url_literals(form: str, address: str, ipv4: str, public: bool) -> None:
    url = f"https://[{address}]/hook"
    if public:
        assert callback_urls.check_callback_url(PLAIN, url) == url
        assert callback_urls.refusal_at_send(PLAIN, url) is None
    else:
        with pytest.raises(ValidationError, match="not a public address"):
            callback_urls.check_callback_url(PLAIN, url)
        assert "not a public address" in (callback_urls.refusal_at_send(PLAIN, url) or "")


@pytest.mark.parametrize(("form", "address", "ipv4", "public"), EMBEDDED, ids=ids(EMBEDDED))
def test_callback_names_resolving_to_embedded_addresses(form: str, address: str, ipv4: str, public: bool,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(callback_urls, "_resolve", lambda host, port: [address])
    refusal = callback_urls.refusal_at_send(PLAIN, "https://hooks.example.com/x")
    assert (refusal is None) is public
    if not public:
        assert refusal is not None and "resolves to a non-public address" in refusal and address in refusal

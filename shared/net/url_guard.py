"""Where the SSRF guard lets us connect: allowlisted hosts, public addresses, checked once.

Used for artifact downloads (``shared.net.safe_fetch``) and for producers' ``callback_url`` (``shared.outgoing``).
1. http(s), a host, no user-info. The host is normalised (lower case, IDNA, IP literals in decimal/hex/octal/short
   or IPv4-mapped IPv6 form made canonical) and must be on the allowlist (``*.suno.ai`` means its subdomains).
2. The host is resolved ONCE; every address must be global (no loopback, private, link-local/metadata, shared,
   reserved, multicast). An IPv6 address that carries an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64 well-known
   and local-use, 6to4, Teredo) is judged by that IPv4 address instead (``is_public_address``). Only
   ``allow_private_for`` endpoints are exempt: ``host:port`` of the configured upstream, e.g. the sandbox on
   127.0.0.1 when it is COMETAPI_BASE_URL.
A failed check is DownloadRefused and nothing is sent; DNS failure is DownloadFailed (transient, retried).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.config import Settings
from shared.errors import HooklineError

# Suno's CDN hosts as the CometAPI docs' Suno examples show them, plus any subdomain of suno.ai / suno.com.
# The Udio examples show only api.cometapi.com, which the base_url covers: they justify no Udio CDN host.
DEFAULT_CDN_HOSTS: frozenset[str] = frozenset(
    {"cdn1.suno.ai", "cdn2.suno.ai", "cdn.suno.ai", "audiopipe.suno.ai", "*.suno.ai", "*.suno.com"}
)

# IPv6 ranges whose addresses carry an IPv4 address that a packet may end up at (a NAT64 gateway, the deprecated
# IPv4-compatible form). Python 3.11 counts ::127.0.0.1 and 64:ff9b:1::7f00:1 as is_global.
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # ::a.b.c.d (RFC 4291 2.5.5.1)
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")  # the well-known prefix: IPv4 in the last 32 bits (RFC 6052)
NAT64_LOCAL_PREFIX = ipaddress.IPv6Network("64:ff9b:1::/48")  # local-use (RFC 8215): the operator picks a /48-/96

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class DownloadError(HooklineError):
    """A file was not downloaded; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class DownloadRefused(DownloadError):
    """The URL may not be fetched (not allowlisted, non-public address, bad scheme); nothing was sent to it."""


class DownloadFailed(DownloadError):
    """The fetch was tried and did not work (HTTP error, too large, unreachable); ``retryable`` if worth a retry."""

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        self.retryable = retryable
        super().__init__(reason)


@dataclass(frozen=True)
class CheckedTarget:
    """A URL that passed the checks, with the one address we will connect to."""

    scheme: str
    host: str  # normalised
    port: int
    path: str  # path and query, as sent
    ips: tuple[str, ...]  # every address the host resolved to, all checked; tried in order

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else endpoint_key(self.host, self.port)


def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host``, in its order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise DownloadFailed(f"cannot resolve {host}: {exc}", retryable=True) from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")


def parse_ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """The address of an IPv4 literal in any form inet_aton takes (decimal, hex, octal, 1-4 parts), else None."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_IPV4_PART.fullmatch(p) for p in parts):
        return None
    numbers = [int(p[2:] or "0", 16) if p[:2].lower() == "0x" else int(p, 8) if p.startswith("0") else int(p)
               for p in parts]
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(parts)):
        return None
    return ipaddress.IPv4Address(sum(n << (8 * (3 - i)) for i, n in enumerate(head)) + last)


def normalise_host(host: str) -> str:
    """Lower case, no brackets or trailing dot, IDNA; IP literals canonical, IPv4-mapped IPv6 as plain IPv4."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        address: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        address = parse_ipv4_literal(host)
    if address is None:
        try:
            return host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise DownloadRefused(f"host {host!r} is not a valid name") from exc
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


def endpoint_key(host: str, port: int | None) -> str:
    """``host:port`` (IPv6 in brackets), or the bare host when port is None."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def _split_endpoint(entry: str) -> tuple[str, int | None]:
    parts = urlsplit(f"//{entry.strip()}")
    return normalise_host(parts.hostname or ""), parts.port


def _nat64_local_candidates(number: int) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 address in a 64:ff9b:1::/48 address under each RFC 6052 layout that fits it (u-octet and suffix
    zero); the /96 layout always fits. A local prefix's length is not knowable from outside, so all are checked."""
    found = [number & 0xFFFFFFFF]  # /96
    if (number >> 56) & 0xFF == 0:  # bits 64-71, the "u" octet, are zero in the /48, /56 and /64 layouts
        if number & 0xFFFFFF == 0:  # /64: IPv4 in bits 72-103
            found.append((number >> 24) & 0xFFFFFFFF)
        if number & 0xFFFFFFFF == 0:  # /56: bits 56-63 and 72-95
            found.append(((number >> 64) & 0xFF) << 24 | (number >> 32) & 0xFFFFFF)
        if number & (1 << 40) - 1 == 0:  # /48: bits 48-63 and 72-87
            found.append(((number >> 64) & 0xFFFF) << 16 | (number >> 40) & 0xFFFF)
    return tuple(ipaddress.IPv4Address(n) for n in dict.fromkeys(found))


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address carries and a packet to it may reach; empty for a plain IPv6 address.

    IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, NAT64 ``64:ff9b::a.b.c.d`` and the local-use
    64:ff9b:1::/48, 6to4 ``2002:AABB:CCDD::``, Teredo ``2001:0:<server>:…:<client>`` (both server and client)."""
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        return address.teredo
    if address in IPV4_COMPATIBLE or address in NAT64_PREFIX:
        return (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    if address in NAT64_LOCAL_PREFIX:
        return _nat64_local_candidates(int(address))
    return ()


def is_public_address(address: IPAddress) -> bool:
    """True for addresses on the public internet only: the one check behind downloads, redirects and callback URLs.

    An IPv6 address that carries an IPv4 address is public when every IPv4 address it may reach is public (so
    ``2002:808:808::``, 6to4 of 8.8.8.8, passes; ``::127.0.0.1`` does not). Other IPv6 addresses must also lie
    outside the IETF-reserved blocks (``is_reserved``: all but 2000::/3 and the special-purpose ranges)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner:
            return all(is_public_address(ipv4) for ipv4 in inner)
    return address.is_global and not address.is_multicast and not address.is_reserved


def host_on_allowlist(host: str, allowed_hosts: Collection[str]) -> bool:
    """Exact (normalised) match, or a subdomain of an entry written ``*.example.com`` or ``.example.com``."""
    for entry in allowed_hosts:
        entry = entry.strip().lower().rstrip(".")
        if entry.startswith(("*.", ".")):
            if host.endswith("." + entry.lstrip("*.")):
                return True
        elif entry and normalise_host(entry) == host:
            return True
    return False


def check_target(url: str, allowed_hosts: Collection[str], *, allow_private_for: Collection[str],
                 resolve: Resolver = system_resolve) -> CheckedTarget:
    """Steps 1 and 2 of the module docstring for one URL; raises DownloadRefused (or DownloadFailed for DNS)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise DownloadRefused(f"scheme {parts.scheme or '(none)'!r} is not http(s)")
    if parts.username is not None or parts.password is not None:
        raise DownloadRefused("URLs with user-info are refused")
    if not parts.hostname:
        raise DownloadRefused("URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise DownloadRefused(f"bad port in URL: {exc}") from exc
    host = normalise_host(parts.hostname)
    if not host_on_allowlist(host, allowed_hosts):
        raise DownloadRefused(f"host {host} is not on the download allowlist")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolve(host, port)]
    if not addresses:
        raise DownloadFailed(f"{host} resolved to no address", retryable=True)
    private_ok = {(host, port), (host, None)} & {_split_endpoint(e) for e in allow_private_for}
    for address in addresses:
        if not private_ok and not is_public_address(address):
            raise DownloadRefused(f"{host} resolves to non-public address {address}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return CheckedTarget(parts.scheme, host, port, path, tuple(str(a) for a in addresses))


def check_url(url: str, allowed_hosts: set[str], *, allow_private_for: set[str],
              resolve: Resolver = system_resolve) -> str:
    """The one IP address to connect to for ``url``, or DownloadRefused (DownloadFailed when DNS fails).

    ``allow_private_for`` holds ``host:port`` (or bare ``host``) entries that may resolve to private addresses.
    Reused for producers' callback_url checks with their own allowlist.
    """
    return check_target(url, allowed_hosts, allow_private_for=allow_private_for, resolve=resolve).ips[0]


def download_allowlist(settings: Settings) -> tuple[set[str], set[str]]:
    """(allowed hosts, private-allowed endpoints) for artifact downloads under these settings."""
    upstream = urlsplit(settings.base_url)
    upstream_host = normalise_host(upstream.hostname or "")
    upstream_port = upstream.port or (443 if upstream.scheme == "https" else 80)
    allowed = set(DEFAULT_CDN_HOSTS) | set(settings.download_allowlist) | {upstream_host}
    return allowed, {endpoint_key(upstream_host, upstream_port)}


def is_allowed(url: str, settings: Settings, *, resolve: Resolver = system_resolve) -> tuple[bool, str]:
    """(True, ip to connect to) or (False, why not); never fetches."""
    allowed, private_for = download_allowlist(settings)
    try:
        return True, check_url(url, allowed, allow_private_for=private_for, resolve=resolve)
    except DownloadError as exc:
        return False, exc.reason

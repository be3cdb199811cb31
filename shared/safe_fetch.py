"""SSRF-guarded downloads: allowlisted hosts, public addresses, and the connection goes to the address checked.

For the first URL and again for every redirect hop (at most ``MAX_REDIRECTS``, followed by hand):
1. http(s), a host, no user-info. The host is normalised (lower case, IDNA, IP literals in decimal/hex/octal/short
   or IPv4-mapped IPv6 form made canonical) and must be on the allowlist (``*.suno.ai`` means its subdomains).
2. The host is resolved ONCE; every address must be global (no loopback, private, link-local/metadata, shared,
   reserved, multicast, also not hidden in IPv4-mapped/6to4/Teredo/NAT64). Only ``allow_private_for`` endpoints are
   exempt: ``host:port`` of the configured upstream, e.g. the sandbox on 127.0.0.1 when it is COMETAPI_BASE_URL.
3. The urllib3 pool is built on a checked IP (each in resolver order until one connects); the name goes only into
   the Host header, SNI (``server_hostname``) and the certificate check (``assert_hostname``). Nothing resolves
   the name again, so DNS rebinding between check and connect has nothing to act on; urllib3 reads no proxy
   settings from the environment either.
A failed check is DownloadRefused and nothing is sent; DNS failure is DownloadFailed (transient, retried).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3

from shared.config import Settings
from shared.errors import HooklineError

# Suno's CDN hosts as they appear in the docs (seeds 000/001), plus any subdomain of suno.ai / suno.com.
# Seed 003 (Udio) shows only api.cometapi.com, which the base_url covers: no Udio CDN host is justified by it.
DEFAULT_CDN_HOSTS: frozenset[str] = frozenset(
    {"cdn1.suno.ai", "cdn2.suno.ai", "cdn.suno.ai", "audiopipe.suno.ai", "*.suno.ai", "*.suno.com"}
)
MAX_REDIRECTS = 5
RETRY_DELAYS = (0.5, 1.0)  # seconds before the 2nd and 3rd try: a Celery task waits at most 1.5 s in sleeps
CHUNK_BYTES = 64 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "hookline-downloader/0.1"
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")  # a NAT64 gateway forwards these to the embedded IPv4

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
class FetchResult:
    path: Path
    size: int
    sha256: str
    content_type: str | None


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


def is_public_address(address: IPAddress) -> bool:
    """True for addresses on the public internet only (checks addresses embedded in IPv6 too)."""
    if isinstance(address, ipaddress.IPv6Address):
        nat64 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in NAT64_PREFIX else None
        embedded = [address.ipv4_mapped, address.sixtofour, address.teredo[1] if address.teredo else None, nat64]
        if any(inner is not None and not is_public_address(inner) for inner in embedded):
            return False
    return address.is_global and not address.is_multicast


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


def backoff(attempt: int) -> float:
    """Seconds to wait before try number ``attempt`` (1-based; the first try waits nothing)."""
    return 0.0 if attempt <= 1 else RETRY_DELAYS[min(attempt - 2, len(RETRY_DELAYS) - 1)]


def fetch_to_file(url: str, dest: Path, settings: Settings, *, max_bytes: int, timeout: float,
                  resolve: Resolver = system_resolve) -> FetchResult:
    """Download ``url`` to ``dest`` under the SSRF guard; 5xx and connection errors are tried again (3 tries)."""
    allowed, private_for = download_allowlist(settings)
    tries = len(RETRY_DELAYS) + 1
    for attempt in range(1, tries + 1):
        time.sleep(backoff(attempt))
        try:
            return _fetch_following_redirects(url, dest, allowed, private_for, max_bytes, timeout, resolve)
        except DownloadFailed as exc:
            if not exc.retryable or attempt == tries:
                suffix = f" (after {attempt} tries)" if attempt > 1 else ""
                raise DownloadFailed(exc.reason + suffix, retryable=exc.retryable) from exc
    raise AssertionError("unreachable")


def _fetch_following_redirects(url: str, dest: Path, allowed: set[str], private_for: set[str], max_bytes: int,
                               timeout: float, resolve: Resolver) -> FetchResult:
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            target = check_target(current, allowed, allow_private_for=private_for, resolve=resolve)
        except DownloadRefused as exc:
            hop = "" if current == url else f"redirect to {current} refused: "
            raise DownloadRefused(hop + exc.reason) from exc
        pool, response = _open(target, timeout)
        try:
            if response.status in REDIRECT_STATUSES:
                location = response.headers.get("Location")
                if not location:
                    raise DownloadFailed(f"HTTP {response.status} without a Location")
                current = urljoin(current, location)
                continue
            if response.status != 200:
                raise DownloadFailed(f"HTTP {response.status} from {target.host_header}",
                                     retryable=response.status >= 500)
            return _stream_to_file(response, dest, max_bytes)
        finally:
            response.release_conn()
            pool.close()
    raise DownloadFailed(f"more than {MAX_REDIRECTS} redirects")


def _open(target: CheckedTarget, timeout: float) -> tuple[urllib3.HTTPConnectionPool, urllib3.BaseHTTPResponse]:
    """GET from the first checked address that takes the connection (every one of them passed the check)."""
    unreachable: Exception | None = None
    for ip in target.ips:
        # The pool is built on the checked IP and can connect nowhere else; the name is only for Host/SNI/cert.
        options: dict[str, Any] = {"port": target.port, "timeout": urllib3.Timeout(connect=timeout, read=timeout),
                                   "maxsize": 1, "retries": False}
        pool = (urllib3.HTTPSConnectionPool(ip, server_hostname=target.host, assert_hostname=target.host,
                                            cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(), **options)
                if target.scheme == "https" else urllib3.HTTPConnectionPool(ip, **options))
        try:
            return pool, pool.urlopen("GET", target.path, headers=_headers(target), redirect=False, retries=False,
                                      preload_content=False, assert_same_host=False)
        except urllib3.exceptions.ConnectTimeoutError as exc:  # includes NewConnectionError (refused)
            pool.close()
            unreachable = exc
        except urllib3.exceptions.HTTPError as exc:
            pool.close()
            raise DownloadFailed(f"cannot fetch from {target.host_header}: {exc}", retryable=True) from exc
    raise DownloadFailed(f"cannot connect to {target.host_header}: {unreachable}", retryable=True)


def _headers(target: CheckedTarget) -> dict[str, str]:
    return {"Host": target.host_header, "User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"}


def _stream_to_file(response: urllib3.BaseHTTPResponse, dest: Path, max_bytes: int) -> FetchResult:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise DownloadFailed(f"Content-Length {declared} is over the cap of {max_bytes} bytes")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in response.stream(CHUNK_BYTES, decode_content=True):
                size += len(chunk)  # counted after decoding, so a compressed bomb hits the cap too
                if size > max_bytes:
                    raise DownloadFailed(f"body is over the cap of {max_bytes} bytes")
                digest.update(chunk)
                out.write(chunk)
        os.replace(partial, dest)
    except urllib3.exceptions.HTTPError as exc:
        Path(partial).unlink(missing_ok=True)
        raise DownloadFailed(f"body read failed after {size} bytes: {exc}", retryable=True) from exc
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()[:128] or None
    return FetchResult(dest, size, digest.hexdigest(), content_type)

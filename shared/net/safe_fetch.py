"""SSRF-guarded downloads: the checks of ``shared.net.url_guard`` for the first URL and for every redirect hop (at most
``MAX_REDIRECTS``, followed by hand), and the connection goes to the address checked:
1. http(s), a host, no user-info. The host is normalised (lower case, IDNA, IP literals in decimal/hex/octal/short
   or IPv4-mapped IPv6 form made canonical) and must be on the allowlist (``*.suno.ai`` means its subdomains).
2. The host is resolved ONCE; every address must be global (no loopback, private, link-local/metadata, shared,
   reserved, multicast). An IPv6 address that carries an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64 well-known
   and local-use, 6to4, Teredo) is judged by that IPv4 address instead (``url_guard.is_public_address``). Only
   ``allow_private_for`` endpoints are exempt: ``host:port`` of the configured upstream, e.g. the sandbox on
   127.0.0.1 when it is COMETAPI_BASE_URL.
3. The urllib3 pool is built on a checked IP (each in resolver order until one connects); the name goes only into
   the Host header, SNI (``server_hostname``) and the certificate check (``assert_hostname``). Nothing resolves
   the name again, so DNS rebinding between check and connect has nothing to act on; urllib3 reads no proxy
   settings from the environment either.
4. Pools are kept per worker thread (at most ``MAX_POOLS``, keyed by scheme, checked IP, port, host name), so a
   job's files reuse one keep-alive connection: a pool is only ever built on, and reused for, an address that the
   check of the request at hand returned. A connection left mid-body (redirect, error, cap, failed sink) is closed,
   never reused; a reused connection the server dropped is tried once more on a fresh one.
A failed check is DownloadRefused and nothing is sent; DNS failure is DownloadFailed (transient, retried).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import certifi
import urllib3

from shared.artifact_store.file import write_atomically
from shared.config import Settings
from shared.net.url_guard import (  # noqa: F401 - re-exported: the guard's public names, for one import site
    DEFAULT_CDN_HOSTS,
    CheckedTarget,
    DownloadError,
    DownloadFailed,
    DownloadRefused,
    IPAddress,
    Resolver,
    check_target,
    check_url,
    download_allowlist,
    embedded_ipv4,
    endpoint_key,
    host_on_allowlist,
    is_allowed,
    is_public_address,
    normalise_host,
    parse_ipv4_literal,
    system_resolve,
)

MAX_REDIRECTS = 5
RETRY_DELAYS = (0.5, 1.0)  # seconds before the 2nd and 3rd try: a Celery task waits at most 1.5 s in sleeps
CHUNK_BYTES = 64 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "hookline-downloader/0.1"
MAX_POOLS = 8  # kept keep-alive pools per thread (one per checked address and host name)

PoolKey = tuple[str, str, int, str, float]
_kept = threading.local()


Sink = Callable[[Iterable[bytes]], None]  # consumes the body's chunks once (a file, an artifact store upload)


@dataclass(frozen=True)
class FetchResult:
    path: Path | None  # None when the body went to a sink, not a file
    size: int
    sha256: str
    content_type: str | None


def backoff(attempt: int) -> float:
    """Seconds to wait before try number ``attempt`` (1-based; the first try waits nothing)."""
    return 0.0 if attempt <= 1 else RETRY_DELAYS[min(attempt - 2, len(RETRY_DELAYS) - 1)]


def fetch_to_file(url: str, dest: Path, settings: Settings, *, max_bytes: int, timeout: float,
                  resolve: Resolver = system_resolve) -> FetchResult:
    """Download ``url`` to ``dest`` under the SSRF guard; 5xx and connection errors are tried again (3 tries)."""
    fetched = fetch_into(url, lambda chunks: write_atomically(chunks, dest), settings, max_bytes=max_bytes,
                         timeout=timeout, resolve=resolve)
    return FetchResult(dest, fetched.size, fetched.sha256, fetched.content_type)


def fetch_into(url: str, sink: Sink, settings: Settings, *, max_bytes: int, timeout: float,
               resolve: Resolver = system_resolve) -> FetchResult:
    """Stream ``url`` into ``sink`` under the SSRF guard, sha256 and size computed on the way (never the whole body
    in memory); 5xx and connection errors are tried again (3 tries), each try a fresh ``sink`` call."""
    allowed, private_for = download_allowlist(settings)
    tries = len(RETRY_DELAYS) + 1
    for attempt in range(1, tries + 1):
        if attempt > 1:  # not sleep(0) on the first: it gives up the GIL and waits to get it back (6.7% in P2)
            time.sleep(backoff(attempt))
        try:
            return _fetch_following_redirects(url, sink, allowed, private_for, max_bytes, timeout, resolve)
        except DownloadFailed as exc:
            if not exc.retryable or attempt == tries:
                suffix = f" (after {attempt} tries)" if attempt > 1 else ""
                raise DownloadFailed(exc.reason + suffix, retryable=exc.retryable) from exc
    raise AssertionError("unreachable")


def _fetch_following_redirects(url: str, sink: Sink, allowed: set[str], private_for: set[str], max_bytes: int,
                               timeout: float, resolve: Resolver) -> FetchResult:
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            target = check_target(current, allowed, allow_private_for=private_for, resolve=resolve)
        except DownloadRefused as exc:
            hop = "" if current == url else f"redirect to {current} refused: "
            raise DownloadRefused(hop + exc.reason) from exc
        response = _open(target, timeout)
        whole = False  # the body was read to its end: only then may the connection be used again
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
            fetched = _stream_into(response, sink, max_bytes)
            whole = response.closed
            return fetched
        finally:
            if not whole:
                response.close()  # closes the connection: the pool opens a new one to the same checked IP
            response.release_conn()
    raise DownloadFailed(f"more than {MAX_REDIRECTS} redirects")


def _pools() -> OrderedDict[PoolKey, urllib3.HTTPConnectionPool]:
    kept = getattr(_kept, "pools", None)
    if kept is None:
        kept = _kept.pools = OrderedDict()
    return kept


def _pool(target: CheckedTarget, ip: str, timeout: float, *, fresh: bool) -> tuple[urllib3.HTTPConnectionPool, bool]:
    """This thread's pool for (checked ``ip``, host name), built on that IP and nothing else; whether it was kept."""
    key: PoolKey = (target.scheme, ip, target.port, target.host, timeout)
    kept = _pools()
    pool = kept.pop(key, None)
    if pool is not None and fresh:
        pool.close()
        pool = None
    reused = pool is not None
    if pool is None:
        # The pool is built on the checked IP and can connect nowhere else; the name is only for Host/SNI/cert.
        options: dict[str, Any] = {"port": target.port, "timeout": urllib3.Timeout(connect=timeout, read=timeout),
                                   "maxsize": 1, "retries": False}
        pool = (urllib3.HTTPSConnectionPool(ip, server_hostname=target.host, assert_hostname=target.host,
                                            cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(), **options)
                if target.scheme == "https" else urllib3.HTTPConnectionPool(ip, **options))
    kept[key] = pool
    while len(kept) > MAX_POOLS:
        kept.popitem(last=False)[1].close()
    return pool, reused


def _forget(pool: urllib3.HTTPConnectionPool) -> None:
    kept = _pools()
    for key in [key for key, value in kept.items() if value is pool]:
        del kept[key]
    pool.close()


def close_pools() -> None:
    """Close this thread's kept connections (tests; a worker thread's end)."""
    kept = _pools()
    while kept:
        kept.popitem()[1].close()


def _open(target: CheckedTarget, timeout: float) -> urllib3.BaseHTTPResponse:
    """GET from the first checked address that takes the connection (every one of them passed the check)."""
    unreachable: Exception | None = None
    for ip in target.ips:
        fresh = False
        while True:
            pool, reused = _pool(target, ip, timeout, fresh=fresh)
            try:
                return pool.urlopen("GET", target.path, headers=_headers(target), redirect=False, retries=False,
                                    preload_content=False, assert_same_host=False)
            except urllib3.exceptions.ConnectTimeoutError as exc:  # includes NewConnectionError (refused)
                _forget(pool)
                unreachable = exc
                break
            except urllib3.exceptions.HTTPError as exc:
                _forget(pool)
                if reused and not fresh:  # the kept connection was dropped by the server: once more, on a new one
                    fresh = True
                    continue
                raise DownloadFailed(f"cannot fetch from {target.host_header}: {exc}", retryable=True) from exc
    raise DownloadFailed(f"cannot connect to {target.host_header}: {unreachable}", retryable=True)


def _headers(target: CheckedTarget) -> dict[str, str]:
    return {"Host": target.host_header, "User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"}


def _stream_into(response: urllib3.BaseHTTPResponse, sink: Sink, max_bytes: int) -> FetchResult:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise DownloadFailed(f"Content-Length {declared} is over the cap of {max_bytes} bytes")
    digest, counted = hashlib.sha256(), [0]

    def body() -> Iterator[bytes]:
        for chunk in response.stream(CHUNK_BYTES, decode_content=True):
            counted[0] += len(chunk)  # counted after decoding, so a compressed bomb hits the cap too
            if counted[0] > max_bytes:
                raise DownloadFailed(f"body is over the cap of {max_bytes} bytes")
            digest.update(chunk)
            yield chunk

    try:
        sink(body())
    except urllib3.exceptions.HTTPError as exc:
        raise DownloadFailed(f"body read failed after {counted[0]} bytes: {exc}", retryable=True) from exc
    content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()[:128] or None
    return FetchResult(None, counted[0], digest.hexdigest(), content_type)

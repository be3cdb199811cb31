"""The SSRF-guarded fetcher against real HTTP servers on 127.0.0.1 (http.server in threads)."""

from __future__ import annotations

import hashlib
import ipaddress
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared.config import Settings, load_settings
from shared.net.safe_fetch import (
    DownloadFailed,
    DownloadRefused,
    FetchResult,
    Resolver,
    check_url,
    close_pools,
    fetch_to_file,
    is_allowed,
    is_public_address,
    normalise_host,
    system_resolve,
)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    length: bool = True  # send Content-Length (else the body ends when the connection closes)
    delay: float = 0.0
    drop: bool = False  # close the connection after this reply without saying so (an idle keep-alive timeout)


class LocalServer:
    """A real HTTP server on 127.0.0.1: each path answers its replies in turn (the last one repeats)."""

    def __init__(self, *, keep_alive: bool = False) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.seen: list[tuple[str, str]] = []  # (path, Host header) of every request received
        self.peers: list[tuple[str, int]] = []  # the client's (address, port) of every request: its connection
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.seen.append((self.path, self.headers.get("Host", "")))
                server.peers.append(self.client_address)
                replies = server.routes.get(self.path) or [Reply(404, b"no such path")]
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.length:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                try:
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the client gave up (size cap): expected
                if reply.drop or not reply.length:
                    self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def route(self, path: str, *replies: Reply) -> str:
        self.routes[path] = list(replies)
        return self.url + path

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


@pytest.fixture
def other_server() -> Iterator[LocalServer]:
    """A second local service that must never be reached (think: Redis, an admin port)."""
    with LocalServer() as running:
        yield running


def settings_for(tmp_path: Path, base_url: str = "https://api.cometapi.com", **extra: object) -> Settings:
    return load_settings({}, var_dir=tmp_path / "var", base_url=base_url, **extra)


def fetch(url: str, dest: Path, settings: Settings, max_bytes: int = 1_000_000,
          resolve: Resolver = system_resolve) -> FetchResult:
    return fetch_to_file(url, dest, settings, max_bytes=max_bytes, timeout=5, resolve=resolve)


MP3 = b"ID3" + bytes(range(256)) * 40


# --- the three acceptance cases -------------------------------------------------------------------------------

def test_loopback_refused_when_the_sandbox_is_not_the_upstream(server: LocalServer, tmp_path: Path) -> None:
    url = server.route("/cdn/a.mp3", Reply(body=MP3))
    with pytest.raises(DownloadRefused, match="not on the download allowlist"):
        fetch(url, tmp_path / "a.mp3", settings_for(tmp_path))
    assert server.seen == []
    assert not (tmp_path / "a.mp3").exists()


def test_host_off_the_allowlist_refused_without_a_lookup(tmp_path: Path) -> None:
    looked_up: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["93.184.216.34"]

    for url in ("http://example.org/song.mp3", "https://cdn1.suno.ai.evil.test/a.mp3", "https://evilsuno.ai/a.mp3"):
        with pytest.raises(DownloadRefused, match="not on the download allowlist"):
            fetch(url, tmp_path / "x", settings_for(tmp_path), resolve=resolve)
    assert looked_up == []


def test_redirect_to_a_host_off_the_allowlist_refused(server: LocalServer, other_server: LocalServer,
                                                      tmp_path: Path) -> None:
    settings = settings_for(tmp_path, base_url=server.url)
    to_web = server.route("/r1", Reply(302, headers={"Location": "http://example.org/steal"}))
    to_local = server.route("/r2", Reply(301, headers={"Location": f"{other_server.url}/admin"}))
    to_metadata = server.route("/r3", Reply(307, headers={"Location": "http://169.254.169.254/latest/meta-data/"}))
    with pytest.raises(DownloadRefused, match="redirect to http://example.org/steal refused"):
        fetch(to_web, tmp_path / "a", settings)
    # Same IP as the upstream, other port: a private address, allowed only for the upstream's own host:port.
    with pytest.raises(DownloadRefused, match="redirect to .* refused: 127.0.0.1 resolves to non-public"):
        fetch(to_local, tmp_path / "b", settings)
    with pytest.raises(DownloadRefused, match="not on the download allowlist"):
        fetch(to_metadata, tmp_path / "c", settings)
    assert other_server.seen == []
    assert not list(tmp_path.glob("[abc]*"))


# --- the configured upstream (the sandbox) -------------------------------------------------------------------

def test_the_configured_upstream_host_and_port_is_allowed(server: LocalServer, other_server: LocalServer,
                                                         tmp_path: Path) -> None:
    settings = settings_for(tmp_path, base_url=server.url)
    url = server.route("/cdn/audio/c1.mp3", Reply(body=MP3, headers={"Content-Type": "audio/mpeg; charset=binary"}))
    assert is_allowed(url, settings) == (True, "127.0.0.1")

    result = fetch(url, tmp_path / "out" / "c1.mp3", settings)

    assert result.path.read_bytes() == MP3
    assert (result.size, result.sha256, result.content_type) == (len(MP3), hashlib.sha256(MP3).hexdigest(),
                                                                 "audio/mpeg")
    assert server.seen == [("/cdn/audio/c1.mp3", f"127.0.0.1:{server.port}")]
    assert is_allowed(f"{other_server.url}/x", settings)[0] is False


def test_hostname_resolving_to_a_private_address_refused_unless_it_is_the_upstream(server: LocalServer,
                                                                                   tmp_path: Path) -> None:
    url = server.route("/a.mp3", Reply(body=MP3)).replace("127.0.0.1", "localhost")
    listed = settings_for(tmp_path, download_allowlist=("localhost",))
    allowed, reason = is_allowed(url, listed)
    assert not allowed and "resolves to non-public address" in reason
    with pytest.raises(DownloadRefused, match="non-public"):
        fetch(url, tmp_path / "a.mp3", listed)
    assert server.seen == []

    upstream = settings_for(tmp_path, base_url=f"http://localhost:{server.port}")
    assert fetch(url, tmp_path / "a.mp3", upstream).size == len(MP3)
    assert server.seen == [("/a.mp3", f"localhost:{server.port}")]


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.1", "[::ffff:127.0.0.1]",
                                  "[::ffff:7f00:1]", "127.0.0.1."])
def test_ip_literals_are_normalised_before_the_check(host: str, server: LocalServer, tmp_path: Path) -> None:
    assert normalise_host(host) == "127.0.0.1"
    url = server.route("/a", Reply(body=b"ok")).replace("127.0.0.1", host)
    assert is_allowed(url, settings_for(tmp_path))[0] is False
    assert is_allowed(url, settings_for(tmp_path, download_allowlist=(host,)))[0] is False  # listed, still loopback
    assert fetch(url, tmp_path / "a", settings_for(tmp_path, base_url=server.url)).size == 2  # it IS the upstream
    assert [path for path, _ in server.seen] == ["/a"]


@pytest.mark.parametrize("address", ["10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.169.254",
                                     "0.0.0.0", "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:10.0.0.1",
                                     "2002:7f00:1::1", "64:ff9b::a00:1"])
def test_non_public_addresses(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "104.18.0.1", "2606:4700::6810:1"])
def test_public_addresses(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


def test_check_url_with_an_explicit_allowlist_returns_the_ip_to_connect_to() -> None:
    def resolve(host: str, port: int) -> list[str]:
        return {"hooks.example.test": ["93.184.216.34"], "mixed.example.test": ["93.184.216.34", "10.0.0.5"]}[host]

    allowed = {"*.example.test", "127.0.0.1"}
    assert check_url("https://hooks.example.test/cb", allowed, allow_private_for=set(), resolve=resolve) \
        == "93.184.216.34"
    with pytest.raises(DownloadRefused, match="10.0.0.5"):  # one private answer refuses the name
        check_url("https://mixed.example.test/cb", allowed, allow_private_for=set(), resolve=resolve)
    assert check_url("http://127.0.0.1:9000/cb", allowed, allow_private_for={"127.0.0.1:9000"}) == "127.0.0.1"
    with pytest.raises(DownloadRefused):
        check_url("http://127.0.0.1:9001/cb", allowed, allow_private_for={"127.0.0.1:9000"})
    for bad in ("file:///etc/passwd", "ftp://127.0.0.1/x", "http://user:pw@127.0.0.1:9000/", "http:///nohost"):
        with pytest.raises(DownloadRefused):
            check_url(bad, allowed, allow_private_for={"127.0.0.1:9000"})


def test_the_connection_goes_to_the_checked_address_without_a_second_lookup(server: LocalServer,
                                                                            tmp_path: Path) -> None:
    # A rebinding resolver: loopback (allowed: it is the upstream) on the first lookup, the metadata address after.
    answers = [["127.0.0.1"]]
    lookups: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)
        return answers.pop(0) if answers else ["169.254.169.254"]

    settings = settings_for(tmp_path, base_url=f"http://sandbox.hookline.test:{server.port}")
    url = server.route("/a.mp3", Reply(body=MP3)).replace("127.0.0.1", "sandbox.hookline.test")
    assert fetch(url, tmp_path / "a.mp3", settings, resolve=rebinding).size == len(MP3)
    assert lookups == ["sandbox.hookline.test"]
    assert server.seen == [("/a.mp3", f"sandbox.hookline.test:{server.port}")]


# --- redirects, limits, retries --------------------------------------------------------------------------------

def test_redirects_are_followed_by_hand_up_to_five(server: LocalServer, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, base_url=server.url)
    for n in range(1, 7):
        server.route(f"/hop{n}", Reply(302, headers={"Location": f"/hop{n + 1}"}))
    server.route("/hop6", Reply(body=b"five hops"))
    assert fetch(f"{server.url}/hop1", tmp_path / "ok", settings).path.read_bytes() == b"five hops"
    server.route("/hop6", Reply(302, headers={"Location": "/hop7"}))
    server.route("/hop7", Reply(body=b"six hops"))
    with pytest.raises(DownloadFailed, match="more than 5 redirects"):
        fetch(f"{server.url}/hop1", tmp_path / "too-far", settings)
    assert not (tmp_path / "too-far").exists()


@pytest.mark.parametrize("declared", [True, False])
def test_size_cap_aborts_and_leaves_no_file(declared: bool, server: LocalServer, tmp_path: Path) -> None:
    url = server.route("/big", Reply(body=b"x" * 300_000, length=declared))
    dest = tmp_path / "out" / "big.mp3"
    with pytest.raises(DownloadFailed, match="over the cap of 100000 bytes"):
        fetch(url, dest, settings_for(tmp_path, base_url=server.url), max_bytes=100_000)
    assert not dest.exists()
    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []  # no partial file either
    assert len(server.seen) == 1  # too large is not retried


def test_5xx_is_retried_then_succeeds(server: LocalServer, tmp_path: Path) -> None:
    url = server.route("/flaky", Reply(503), Reply(500), Reply(body=MP3))
    started = time.monotonic()
    result = fetch(url, tmp_path / "flaky.mp3", settings_for(tmp_path, base_url=server.url))
    assert result.sha256 == hashlib.sha256(MP3).hexdigest()
    assert len(server.seen) == 3
    assert 1.4 < time.monotonic() - started < 5  # backoff 0.5 s + 1 s


def test_5xx_gives_up_after_three_tries_and_4xx_at_once(server: LocalServer, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, base_url=server.url)
    with pytest.raises(DownloadFailed, match=r"HTTP 502 .* \(after 3 tries\)"):
        fetch(server.route("/down", Reply(502)), tmp_path / "down", settings)
    with pytest.raises(DownloadFailed, match="HTTP 404"):
        fetch(server.route("/gone", Reply(404)), tmp_path / "gone", settings)
    assert [path for path, _ in server.seen] == ["/down"] * 3 + ["/gone"]


def test_unreachable_and_slow_servers_fail_after_retries(server: LocalServer, tmp_path: Path) -> None:
    closed = LocalServer()  # bound, then closed: nothing listens on its port
    closed.httpd.server_close()
    with pytest.raises(DownloadFailed, match=r"cannot connect .* \(after 3 tries\)"):
        fetch(f"{closed.url}/a", tmp_path / "a", settings_for(tmp_path, base_url=closed.url))
    url = server.route("/slow", Reply(body=b"late", delay=1.0))
    with pytest.raises(DownloadFailed, match="after 3 tries"):
        fetch_to_file(url, tmp_path / "slow", settings_for(tmp_path, base_url=server.url), max_bytes=100, timeout=0.2)
    assert not (tmp_path / "slow").exists()


@pytest.mark.parametrize("address", ["::127.0.0.1", "64:ff9b:1::7f00:1", "64:ff9b::7f00:1", "2002:7f00:1::",
                                     "2001:0:808:404:0:ffff:80ff:fffe", "::ffff:127.0.0.1"])
def test_redirect_to_an_ipv6_form_of_loopback_refused(address: str, server: LocalServer,
                                                      other_server: LocalServer, tmp_path: Path) -> None:
    # Listed on purpose: the address check must refuse it anyway. The IPv4-mapped form is normalised to 127.0.0.1.
    settings = settings_for(tmp_path, base_url=server.url, download_allowlist=(address,))
    url = server.route("/r", Reply(302, headers={"Location": f"http://[{address}]:{other_server.port}/admin"}))
    with pytest.raises(DownloadRefused, match="redirect to .* refused: .* non-public"):
        fetch(url, tmp_path / "a", settings)
    assert other_server.seen == [] and not (tmp_path / "a").exists()


# --- kept connections (one keep-alive pool per checked address, per thread) ------------------------------------

@pytest.fixture
def keep_alive_server() -> Iterator[LocalServer]:
    with LocalServer(keep_alive=True) as running:
        close_pools()
        yield running
        close_pools()


def test_a_jobs_files_share_one_connection_to_the_checked_address(keep_alive_server: LocalServer,
                                                                  tmp_path: Path) -> None:
    server = keep_alive_server
    settings = settings_for(tmp_path, base_url=server.url)
    urls = [server.route(f"/{n}.mp3", Reply(body=MP3)) for n in range(3)]
    urls.append(server.route("/moved", Reply(302, b"elsewhere", {"Location": "/0.mp3"})))
    for n, url in enumerate(urls):
        assert fetch(url, tmp_path / f"{n}.mp3", settings).sha256 == hashlib.sha256(MP3).hexdigest()
    assert [path for path, _host in server.seen] == ["/0.mp3", "/1.mp3", "/2.mp3", "/moved", "/0.mp3"]
    # One connection for the three files; the redirect's unread body closed it, so the last hop opened another.
    assert len(set(server.peers[:4])) == 1 and server.peers[4] != server.peers[3]


def test_a_kept_connection_is_never_used_for_an_address_the_check_refuses(keep_alive_server: LocalServer,
                                                                         tmp_path: Path) -> None:
    server = keep_alive_server
    url = server.route("/a.mp3", Reply(body=MP3))
    assert fetch(url, tmp_path / "a.mp3", settings_for(tmp_path, base_url=server.url)).size == len(MP3)
    # Loopback is no longer the upstream: the pool kept for 127.0.0.1 is not asked, nothing is sent.
    with pytest.raises(DownloadRefused):
        fetch(url, tmp_path / "b.mp3", settings_for(tmp_path))
    # The same name now resolves elsewhere: the connection goes to the address checked now (127.0.0.2, where
    # nothing listens), never through the connection kept for 127.0.0.1.
    named = url.replace("127.0.0.1", "sandbox.hookline.test")
    settings = settings_for(tmp_path, base_url=f"http://sandbox.hookline.test:{server.port}")
    assert fetch(named, tmp_path / "c.mp3", settings, resolve=lambda host, port: ["127.0.0.1"]).size == len(MP3)
    with pytest.raises(DownloadFailed, match="127.0.0.2"):
        fetch(named, tmp_path / "d.mp3", settings, resolve=lambda host, port: ["127.0.0.2"])
    assert [path for path, _host in server.seen] == ["/a.mp3", "/a.mp3"]


def test_a_kept_connection_the_server_dropped_is_replaced(keep_alive_server: LocalServer, tmp_path: Path) -> None:
    server = keep_alive_server
    settings = settings_for(tmp_path, base_url=server.url)
    url = server.route("/a.mp3", Reply(body=MP3, drop=True))
    for n in range(2):
        assert fetch(url, tmp_path / f"{n}.mp3", settings).size == len(MP3)
    assert len(server.seen) == 2 and server.peers[0] != server.peers[1]

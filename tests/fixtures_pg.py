"""A throwaway PostgreSQL for tests: ``postgres_server`` (one per session) and ``postgres_url`` (a fresh database
per test).

Debian's server binaries live in /usr/lib/postgresql/<version>/bin and are not on PATH. The server refuses to run
as root, so as root it runs as the ``postgres`` user (else ``nobody``) in a temporary directory chowned to it.
TCP on 127.0.0.1 only, on a free port; trust auth (nothing else can reach it); fsync off (it is thrown away).
Locally the fixtures skip when PostgreSQL is not installed; under CI=true they FAIL.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.cli.stack import free_port, wait_until

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SUPERUSER = "postgres"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    bin_dir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={SUPERUSER} dbname={database}"


def find_postgres_bin() -> Path | None:
    """The newest installed server's bin dir (Debian layout), or the one whose initdb is on PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if candidates:
        return Path(candidates[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"PostgreSQL is required under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def _server_user() -> tuple[int, int] | None:
    """(uid, gid) to run the server as when we are root; None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    for name in (SUPERUSER, "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    return None


def _demote(ids: tuple[int, int] | None) -> Callable[[], None] | None:
    if ids is None:
        return None
    uid, gid = ids

    def run_as_server_user() -> None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)

    return run_as_server_user


def _accepts_connections(server: PostgresServer) -> bool:
    import psycopg

    try:
        with psycopg.connect(server.dsn(), connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _wait_ready(server: PostgresServer, log: Path, timeout: float = 30.0) -> None:
    try:
        wait_until(lambda: _accepts_connections(server), timeout, 0.1, "PostgreSQL accepting connections")
    except TimeoutError:
        pytest.fail(f"PostgreSQL did not start:\n{log.read_text(errors='replace')[-3000:]}", pytrace=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        _missing("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    assert bin_dir is not None
    ids = _server_user()
    if os.geteuid() == 0 and ids is None:
        _missing("running as root and no 'postgres' or 'nobody' user to run the server as")
    # Not under pytest's tmp dir: that is mode 0700 and owned by us, so the server user could not enter it.
    root = Path(tempfile.mkdtemp(prefix="hookline-pg-"))
    data, log = root / "data", root / "server.log"
    if ids is not None:
        os.chown(root, *ids)
    demote = _demote(ids)
    port = free_port()
    subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=demote, cwd=root,
    )
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off " \
              "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    subprocess.run(
        [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=demote, cwd=root,
    )
    server = PostgresServer("127.0.0.1", port, bin_dir)
    try:
        _wait_ready(server, log)
        yield server
    finally:
        subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=demote, cwd=root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for this test (dropped afterwards, whatever still holds connections to it)."""
    import psycopg

    name = f"hookline_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = postgres_server.url(name)
    yield url
    from shared.db import engine_for

    engine_for(url).dispose()  # processes of this test keep theirs; FORCE below ends those
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

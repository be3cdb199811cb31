"""The PostgreSQL pool pings a connection only when it sat idle (``shared.db.ping_if_idle``): one the server
dropped meanwhile is replaced before anyone uses it, and one in steady use costs no round trip."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import create_engine, event, text

import shared.db
from shared.db import ping_if_idle


def _engine(url: str):
    engine = create_engine(url, pool_size=1, max_overflow=0)
    ping_if_idle(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    return engine, statements


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("select pg_backend_pid()")).scalar_one())


def _terminate(postgres_server, pid: int) -> None:
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as admin:
        admin.execute("select pg_terminate_backend(%s)", (pid,))


def test_an_idle_connection_the_server_dropped_is_replaced_on_checkout(postgres_server, postgres_url, monkeypatch):
    engine, _ = _engine(str(postgres_url))
    first = _backend_pid(engine)
    _terminate(postgres_server, first)
    monkeypatch.setattr(shared.db, "PING_IDLE_AFTER_S", 0.0)  # it has now sat idle long enough
    second = _backend_pid(engine)  # no error: the ping failed, the pool reconnected, the statement ran
    assert second != first
    engine.dispose()


def test_a_connection_in_steady_use_is_not_pinged(postgres_url, monkeypatch):
    engine, statements = _engine(str(postgres_url))
    pings: list[object] = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn))
    for _ in range(5):
        with engine.connect() as conn:
            conn.execute(text("select 42"))
    assert statements == ["select 42"] * 5 and pings == []  # no ping between checkouts a moment apart
    monkeypatch.setattr(shared.db, "PING_IDLE_AFTER_S", 0.0)
    with engine.connect() as conn:
        conn.execute(text("select 42"))
    assert len(pings) == 1  # idle long enough: pinged once before use
    engine.dispose()


def test_without_the_ping_a_dropped_busy_connection_fails_once_then_the_pool_recovers(postgres_server, postgres_url):
    from sqlalchemy.exc import OperationalError

    engine, _ = _engine(str(postgres_url))
    first = _backend_pid(engine)
    _terminate(postgres_server, first)
    with pytest.raises(OperationalError):  # used again at once: no ping, the statement meets the dropped socket
        _backend_pid(engine)
    assert _backend_pid(engine) != first  # the pool dropped it; the caller's retry gets a fresh connection
    engine.dispose()

"""Engine and session factory, and schema migration to head."""

from __future__ import annotations

import os
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.errors import HooklineError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def apply_sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """A ``connect`` listener for every SQLite engine we make: the database's and the embedded broker's.

    WAL lets the receiver read while a worker writes; busy_timeout makes writers queue instead of failing;
    synchronous=NORMAL is safe under WAL and spares an fsync per commit.
    """
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


# A pooled server connection idle this long is pinged before it is handed out. ``pool_pre_ping`` pinged every
# checkout: a round trip more for each of the dozen sessions a job opens (bench P2 on PostgreSQL). A connection in
# steady use that the server dropped fails its statement instead; the pool then drops every connection opened
# before the failure, and each caller's retry (the receiver's, Celery's redelivery, the sweeps) gets a fresh one.
PING_IDLE_AFTER_S = 5.0


def ping_if_idle(engine: Engine) -> None:
    """Ping a pooled connection on checkout when it sat idle over PING_IDLE_AFTER_S; a failed ping makes the pool
    replace it (``DisconnectionError``), so a database restarted while we were quiet costs no failed statement."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_IDLE_AFTER_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - any failure: the pool reconnects
            raise DisconnectionError(f"idle connection failed its ping: {type(exc).__name__}") from exc
        if not alive:
            raise DisconnectionError("idle connection failed its ping")


class DatabaseUnusable(HooklineError):
    """The database URL names a dialect or driver that is not available here; nothing was read or written."""


def shown_url(url: str) -> str:
    """``url`` for messages: never its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL: show its scheme only
        return url.split("://", 1)[0] + "://…"


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    from sqlalchemy.exc import ArgumentError

    try:
        return _new_engine(url)
    except ImportError as exc:  # the dialect's DB-API driver (psycopg, MySQLdb, …) is not installed
        raise DatabaseUnusable(f"HOOKLINE_DATABASE_URL: the driver for {shown_url(url)} is not installed "
                               f"({exc}): install it, or use sqlite:///path or postgresql+psycopg://…") from None
    except ArgumentError as exc:  # includes NoSuchModuleError: no dialect of that name
        raise DatabaseUnusable(f"HOOKLINE_DATABASE_URL: cannot use {shown_url(url)}: {_first_line(exc)} "
                               "(expected sqlite:///path or postgresql+psycopg://user@host:5432/db)") from None


def create_private_sqlite_file(url: str) -> None:
    """Create the SQLite file of ``url`` (and its folder) readable by its owner only (0600), if it does not exist.

    SQLite creates its -wal and -shm files with the database file's own mode, so they are 0600 too. An existing
    file's mode is left as it is: never loosened, never changed behind an operator's back. An empty file is a valid
    empty SQLite database. Memory databases and non-SQLite URLs are left alone.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:" \
            or parsed.database.startswith("file:"):
        return
    path = Path(parsed.database)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # created 0600 atomically, or not at all
    except FileExistsError:
        pass


def _new_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        create_private_sqlite_file(url)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", apply_sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_size=5, max_overflow=10)
    ping_if_idle(engine)
    return engine


def get_engine(settings: Settings) -> Engine:
    return engine_for(settings.database_url)


@lru_cache(maxsize=8)
def _factory_for(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=engine_for(url), expire_on_commit=False)


def session_factory(settings: Settings) -> sessionmaker[Session]:
    """The process's one session factory for this database (for code that hands a factory on)."""
    return _factory_for(settings.database_url)


def open_session(settings: Settings) -> Session:
    """The one way to open a session: ``with open_session(settings) as session: ...; session.commit()``.

    Rule: **the caller commits**, explicitly, once its unit of work is whole; leaving the block without a commit
    rolls everything back. Nothing below the caller commits on its behalf, except functions whose docstring says
    they commit (a compare-and-set that must be visible to other processes at once, such as a claim).
    Receiver views get theirs through ``webhook.context.db_session()``, which opens it here.
    """
    return _factory_for(settings.database_url)()


def alembic_config(settings: Settings) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    return cfg


def upgrade(settings: Settings) -> None:
    """Apply every migration up to head (idempotent)."""
    from alembic import command

    get_engine(settings)  # creates the SQLite folder
    command.upgrade(alembic_config(settings), "head")
    # Alembic's own engine leaves a fresh SQLite file in rollback-journal mode; one connection through ours
    # switches it to WAL now, before several processes race to do it (and get "database is locked").
    with get_engine(settings).connect():
        pass


def current_revision(settings: Settings) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with get_engine(settings).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(settings: Settings) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def database_variable(settings: Settings) -> str:
    """The variable that chose this database: HOOKLINE_VAR_DIR for the default SQLite file, else the URL's own."""
    default = f"sqlite:///{Path(settings.var_dir) / 'hookline.db'}"
    return "HOOKLINE_VAR_DIR" if settings.database_url == default else "HOOKLINE_DATABASE_URL"


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0].strip()


_MISSING_TABLE = ("no such table", "undefinedtable")
_MISSING_COLUMN = ("no such column", "undefinedcolumn")


def explain_database_error(exc: BaseException, settings: Settings) -> str | None:
    """One line saying what is wrong with the database and what to do, for an error the DB-API raised; else None.

    Missing tables or columns (an unmigrated or outdated schema), an unreachable server, a SQLite file that cannot
    be opened. Never shows a password. Other database errors (constraint violations: bugs) are left alone.
    """
    from sqlalchemy.exc import OperationalError, ProgrammingError

    if not isinstance(exc, OperationalError | ProgrammingError):
        return None
    where, variable = shown_url(settings.database_url), database_variable(settings)
    detail = _first_line(exc)
    password = make_url(settings.database_url).password
    if password:
        detail = detail.replace(str(password), "***")
    kind = f"{type(exc.orig).__name__} {detail}".lower()
    if any(marker in kind for marker in _MISSING_TABLE) or ("relation" in kind and "does not exist" in kind):
        return f"the database at {where} has no hookline tables yet ({detail}): run `hookline db upgrade`"
    if any(marker in kind for marker in _MISSING_COLUMN):
        return f"the database at {where} has an older schema than this code ({detail}): run `hookline db upgrade`"
    if not isinstance(exc, OperationalError):
        return None
    if make_url(settings.database_url).get_backend_name() == "sqlite":
        return f"cannot use the SQLite database {where}: {detail} (check {variable})"
    return f"database at {where} is unreachable: {detail} — is the server running, and is {variable} right?"

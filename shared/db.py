"""Engine and session factory, and schema migration to head."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings

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


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", apply_sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


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

"""Alembic's environment: the database is hookline's own (shared.db.alembic_config sets it; a bare `alembic` run
from the repo root reads HOOKLINE_DATABASE_URL / HOOKLINE_VAR_DIR like every hookline command)."""

from __future__ import annotations

import logging

from alembic import context
from sqlalchemy import create_engine

from shared.models import Base

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from shared.config import load_settings
    from shared.db import create_private_sqlite_file
    from shared.log_format import configure_logging

    settings = load_settings()
    if not any(getattr(h, "hookline", False) for h in logging.getLogger().handlers):
        configure_logging(settings)  # `alembic ...` from a shell: hookline's log lines, at HOOKLINE_LOG_LEVEL
    create_private_sqlite_file(settings.database_url)  # the SQLite file (and folder), 0600, as `hookline db` does
    return settings.database_url


def run_migrations_online() -> None:
    engine = create_engine(database_url())
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()

"""Refuse to run against a database whose schema is not the one this code was written for.

The receiver and the workers call ``require_current_schema`` at start; ``hookline db upgrade`` is the one way to
move the schema (a deploy runs it once, before the new processes start), so many processes never race to migrate.
"""

from __future__ import annotations

from pathlib import Path

from shared.config import Settings
from shared.errors import ConfigError, HooklineError

UPGRADE_COMMAND = "hookline db upgrade"


class SchemaOutOfDate(HooklineError):
    """The database's Alembic revision is not the code's head revision."""

    def __init__(self, current: str | None, head: str | None, database: str) -> None:
        self.current = current
        self.head = head
        self.database = database
        if current is None:
            problem = f"database {database} has no schema yet (code expects revision {head})"
        else:
            problem = f"database {database} is at revision {current}, code expects {head}"
        super().__init__(f"{problem}: run `{UPGRADE_COMMAND}`")


class SchemaAhead(HooklineError):
    """The database was migrated by newer code than this: this code must not write to it."""

    def __init__(self, current: str, head: str | None, database: str) -> None:
        self.current = current
        self.head = head
        super().__init__(
            f"database {database} is at revision {current}, unknown to this code (its head is {head}): "
            "deploy the newer code, or downgrade the database deliberately"
        )


class DatabaseUnreachable(HooklineError):
    """The database could not be opened to read its schema revision."""


class DatabaseMissing(HooklineError):
    """The SQLite database file does not exist yet: nothing was created by looking for it."""


def require_database(settings: Settings) -> None:
    """Before a command that reads or writes jobs: the SQLite file must exist, so that looking does not create an
    empty one (SQLite creates the file, and we the folder, on first connect). Other databases: nothing to check."""
    from sqlalchemy.engine import make_url

    from shared.db import database_variable

    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" \
            or url.database.startswith("file:"):
        return
    path, variable = Path(url.database), database_variable(settings)
    if path.is_file():
        return
    for folder in (path.parent, *path.parent.parents):
        if folder.exists():
            if not folder.is_dir():
                raise ConfigError(variable, f"{folder} is a file, not a folder: point {variable} at a folder")
            break
    if path.exists():
        raise ConfigError(variable, f"{path} is not a file: point {variable} at a database file")
    raise DatabaseMissing(f"no database at {path} ({variable}={_shown_setting(settings, variable)}): "
                          f"run `{UPGRADE_COMMAND}` to create it")


def _shown_setting(settings: Settings, variable: str) -> str:
    return str(settings.var_dir) if variable == "HOOKLINE_VAR_DIR" else describe_database(settings)


def _known_revisions(settings: Settings) -> set[str]:
    from alembic.script import ScriptDirectory

    from shared.db import alembic_config

    return {rev.revision for rev in ScriptDirectory.from_config(alembic_config(settings)).walk_revisions()}


def describe_database(settings: Settings) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


def require_current_schema(settings: Settings) -> str:
    """The current revision when it is head; else SchemaOutOfDate (names `hookline db upgrade`) or SchemaAhead."""
    from sqlalchemy.exc import OperationalError

    from shared.db import current_revision, explain_database_error, head_revision

    try:
        current = current_revision(settings)
    except OperationalError as exc:
        problem = explain_database_error(exc, settings) or f"cannot read the schema of {describe_database(settings)}"
        raise DatabaseUnreachable(problem) from exc
    head = head_revision(settings)
    if current == head and current is not None:
        return current
    where = describe_database(settings)
    if current is not None and current not in _known_revisions(settings):
        raise SchemaAhead(current, head, where)
    raise SchemaOutOfDate(current, head, where)

"""Refuse to run against a database whose schema is not the one this code was written for.

The receiver and the workers call ``require_current_schema`` at start; ``hookline db upgrade`` is the one way to
move the schema (a deploy runs it once, before the new processes start), so many processes never race to migrate.
"""

from __future__ import annotations

from shared.config import Settings
from shared.errors import HooklineError

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

    from shared.db import current_revision, head_revision

    try:
        current = current_revision(settings)
    except OperationalError as exc:
        problem = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DatabaseUnreachable(f"cannot read the schema of {describe_database(settings)}: {problem}") from exc
    head = head_revision(settings)
    if current == head and current is not None:
        return current
    where = describe_database(settings)
    if current is not None and current not in _known_revisions(settings):
        raise SchemaAhead(current, head, where)
    raise SchemaOutOfDate(current, head, where)

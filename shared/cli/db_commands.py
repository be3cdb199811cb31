"""`hookline db`: the schema, through Alembic, without an alembic.ini (the repo-root one serves a bare `alembic`)."""

from __future__ import annotations

import json
from typing import Any

import click

from shared.config import load_settings

json_option = click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of text")


def echo_result(as_json: bool, data: dict[str, Any], text: str) -> None:
    """The one way a command prints its result: ``text`` for people, or ``data`` as one JSON line with --json."""
    click.echo(json.dumps(data, sort_keys=True, default=str) if as_json else text)


@click.group()
def db() -> None:
    """Database schema: upgrade, current, downgrade, history, revision."""


@db.command("upgrade")
@click.argument("revision", default="head")
@json_option
def db_upgrade(revision: str, as_json: bool) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from alembic import command

    from shared import db as database

    settings = load_settings()
    before = database.current_revision(settings) if revision != "head" else None
    if revision == "head":
        database.upgrade(settings)
    else:
        _check_revision(settings, revision)
        database.get_engine(settings)
        _alembic(command.upgrade, database.alembic_config(settings), revision)
    current = database.current_revision(settings)
    echo_result(as_json, {"current": current, "head": database.head_revision(settings), "previous": before},
                f"database at revision {current}")


@db.command("current")
@json_option
def db_current(as_json: bool) -> None:
    """Show the applied and the newest revision."""
    from shared import db as database

    settings = load_settings()
    current, head = database.current_revision(settings), database.head_revision(settings)
    echo_result(as_json, {"current": current, "head": head, "up_to_date": current == head},
                f"current={current} head={head}")


@db.command("downgrade", context_settings={"ignore_unknown_options": True})  # "-1" is a revision
@click.argument("revision")
@json_option
def db_downgrade(revision: str, as_json: bool) -> None:
    """Undo migrations down to REVISION (a revision id, -1 for one step, or base for an empty database).

    Running processes of the newer code refuse to start against the older schema afterwards."""
    from alembic import command

    from shared import db as database

    settings = load_settings()
    _check_revision(settings, revision)
    before = database.current_revision(settings)
    if before is None:
        from shared.errors import HooklineError

        raise HooklineError("the database has no hookline schema yet, nothing to downgrade: "
                            "run `hookline db upgrade` to create it")
    _alembic(command.downgrade, database.alembic_config(settings), revision)
    current = database.current_revision(settings)
    echo_result(as_json, {"current": current, "previous": before, "head": database.head_revision(settings)},
                f"database at revision {current} (was {before})")


@db.command("history")
@json_option
def db_history(as_json: bool) -> None:
    """List every migration, newest first, marking the one the database is at."""
    from alembic.script import ScriptDirectory

    from shared import db as database

    settings = load_settings()
    current = database.current_revision(settings)
    script = ScriptDirectory.from_config(database.alembic_config(settings))
    rows = [{"revision": rev.revision, "down_revision": rev.down_revision, "message": rev.doc or "",
             "current": rev.revision == current, "head": rev.is_head} for rev in script.walk_revisions()]
    if as_json:
        echo_result(True, {"current": current, "revisions": rows}, "")
        return
    for row in rows:
        marks = "".join(f" ({m})" for m in ("head", "current") if row[m])
        click.echo(f"{row['down_revision'] or '<base>'} -> {row['revision']}{marks}, {row['message']}")


@db.command("revision")
@click.option("-m", "--message", required=True, help="what the migration does")
@click.option("--autogenerate", is_flag=True, help="compare the models with the database and write the difference")
@click.option("--rev-id", default=None, help="the revision id (the repo's convention: NNNN_<topic>, the next number)")
@json_option
def db_revision(message: str, autogenerate: bool, rev_id: str | None, as_json: bool) -> None:
    """Write a new migration file into shared/migrations/versions (a developer's command)."""
    from alembic import command

    from shared import db as database
    from shared.schema_check import require_current_schema

    settings = load_settings()
    if autogenerate:
        require_current_schema(settings)  # autogenerate diffs against the database: it must be at head first
    script = _alembic(command.revision, database.alembic_config(settings), message=message,
                      autogenerate=autogenerate, rev_id=rev_id)
    scripts = script if isinstance(script, list) else [script]
    made = [s for s in scripts if s is not None]
    echo_result(as_json, {"revisions": [{"revision": s.revision, "path": s.path} for s in made]},
                "\n".join(f"wrote {s.path} (revision {s.revision})" for s in made))


def _check_revision(settings: Any, revision: str) -> None:
    """A revision argument Alembic can resolve, else one clear line (Alembic's own error is a traceback)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from shared import db as database
    from shared.errors import HooklineError

    if revision in ("base", "head", "heads") or revision.lstrip("-+").isdigit():
        return
    try:
        ScriptDirectory.from_config(database.alembic_config(settings)).get_revision(revision)
    except CommandError as exc:
        raise HooklineError(f"unknown revision {revision!r} ({exc}): see `hookline db history`") from None


def _alembic(action: Any, *args: Any, **kwargs: Any) -> Any:
    """Run an Alembic command; its CommandError (a bad revision, a step past base) becomes one clear line. What
    Alembic prints ("Generating …") goes to stderr: stdout holds the command's result only (--json stays JSON)."""
    import contextlib
    import sys

    from alembic.util import CommandError

    from shared.errors import HooklineError

    try:
        with contextlib.redirect_stdout(sys.stderr):
            return action(*args, **kwargs)
    except CommandError as exc:
        raise HooklineError(f"alembic: {exc}") from None

"""`hookline`: run the stack, the sandbox and its parts, submit work and read it back."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from shared.config import Settings, load_settings, require_shared_secret
from shared.errors import ConfigError, HooklineError
from shared.schema_check import require_current_schema


class HooklineGroup(click.Group):
    """The CLI's one error handler: our own errors, and a database or a folder that cannot be used, become one
    clear line (what is wrong, which variable, what to do) and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            _fail(f"bad setting {exc}")
        except HooklineError as exc:
            _fail(str(exc))
        except Exception as exc:
            message = explain_environment_error(exc)
            if message is None:
                raise
            _fail(message)


def _fail(message: str) -> NoReturn:
    click.echo("hookline: " + " ".join(message.split()), err=True)  # one line, whatever the message held
    sys.exit(2)


def explain_environment_error(exc: Exception) -> str | None:
    """One line for an error of the surroundings (the database, the var folder), else None (a bug: traceback)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        settings = load_settings()
    except HooklineError:
        return None
    if isinstance(exc, SQLAlchemyError):
        from shared.db import explain_database_error

        return explain_database_error(exc, settings)
    if isinstance(exc, OSError) and exc.filename is not None:
        return _explain_os_error(exc, settings)
    return None


def _explain_os_error(exc: OSError, settings: Settings) -> str:
    path = Path(os.fsdecode(exc.filename))
    problem = f"{path}: {exc.strerror or exc}"
    var_dir = Path(settings.var_dir).absolute()
    if path.absolute() == var_dir or var_dir in path.absolute().parents:
        return f"{problem} (HOOKLINE_VAR_DIR={settings.var_dir}: point it at a folder hookline can create and write)"
    return problem


@click.group(cls=HooklineGroup)
def main() -> None:
    """hookline: a job system for the CometAPI music API."""
    from shared.log_format import configure_logging

    configure_logging(load_settings())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="default: HOOKLINE_PORT (8000)")
def receiver(host: str, port: int | None) -> None:
    """Serve the callback receiver and producer API (threaded dev server; in production: gunicorn webhook.wsgi:app)."""
    from werkzeug.serving import run_simple

    from webhook.app import create_app
    from webhook.serving import RedactingRequestHandler

    settings = load_settings()
    require_shared_secret(settings)
    require_current_schema(settings)
    run_simple(host, port or settings.port, create_app({"HOOKLINE_SETTINGS": settings}), threaded=True,
               request_handler=RedactingRequestHandler)


@main.command()
@click.option("--concurrency", type=int, default=2, show_default=True)
@click.option("--pool", type=click.Choice(["prefork", "threads", "solo"]), default="threads", show_default=True)
@click.option("--name", default="worker", show_default=True)
def worker(concurrency: int, pool: str, name: str) -> None:
    """Run a Celery worker (celery -A worker.app worker)."""

    settings = load_settings()
    require_shared_secret(settings)
    require_current_schema(settings)
    args = ["worker", "-Q", "hookline", "-c", str(concurrency), "-P", pool, "-n", f"{name}@%h", "-l", "INFO",
            "--without-gossip", "--without-mingle"]
    from worker.app import app

    app.worker_main(args)


@main.command()
def beat() -> None:
    """Run Celery beat (exactly one per deployment): schedules the reconciler."""
    settings = load_settings()
    require_shared_secret(settings)
    os.makedirs(settings.var_dir, exist_ok=True)
    from worker.app import app

    app.start(["beat", "-l", "INFO", "--schedule", str(settings.var_dir / "celerybeat-schedule")])


@main.command()
def reconcile() -> None:
    """Run one reconcile sweep now, in this process."""
    from worker.reconciling import reconcile_overdue

    report = reconcile_overdue(load_settings())
    click.echo(f"fetched={report.fetched} fetch_calls={report.fetch_calls} applied={report.applied} "
               f"requeued={report.requeued} timed_out={report.timed_out}")


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration up to head."""
    from shared import db as database

    settings = load_settings()
    database.upgrade(settings)
    click.echo(f"database at revision {database.current_revision(settings)}")


@db.command("current")
def db_current() -> None:
    """Show the applied and the newest revision."""
    from shared import db as database

    settings = load_settings()
    click.echo(f"current={database.current_revision(settings)} head={database.head_revision(settings)}")


def _register() -> None:
    from shared.cli.ledger import costs, retry
    from shared.cli.pipeline import pipeline
    from shared.cli.producer import apikey, bulk, deliveries
    from shared.cli.run import demo, sandbox, up
    from shared.cli.submit import status, submit
    from shared.cli.watch import watch

    for command in (up, sandbox, demo, submit, status, costs, retry, pipeline, bulk, watch, apikey, deliveries):
        main.add_command(command)


_register()

if __name__ == "__main__":
    main()

"""`hookline`: run the stack, the sandbox and its parts, submit work and read it back."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from shared.cli.db_commands import echo_result, json_option
from shared.config import Settings, load_settings, require_shared_secret
from shared.errors import ConfigError, HooklineError
from shared.schema_check import require_current_schema

LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
loglevel_option = click.option("-l", "--loglevel", type=click.Choice(LEVELS, case_sensitive=False), default=None,
                               help="default: HOOKLINE_LOG_LEVEL (INFO)")


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


@click.group(cls=HooklineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hookline", prog_name="hookline", message="%(prog)s %(version)s")
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
@loglevel_option
def worker(concurrency: int, pool: str, name: str, loglevel: str | None) -> None:
    """Run a Celery worker (celery -A worker.app worker)."""

    settings = load_settings()
    require_shared_secret(settings)
    require_current_schema(settings)
    level = (loglevel or settings.log_level).upper()
    from shared.tasks import WORKER_QUEUES

    args = ["worker", "-Q", WORKER_QUEUES, "-c", str(concurrency), "-P", pool, "-n", f"{name}@%h", "-l", level,
            "--without-gossip", "--without-mingle"]
    from worker.app import app

    app.worker_main(args)


@main.command()
@loglevel_option
def beat(loglevel: str | None) -> None:
    """Run Celery beat (exactly one per deployment): schedules the reconciler (and pruning, with
    HOOKLINE_RETENTION_DAYS)."""
    settings = load_settings()
    require_shared_secret(settings)
    require_current_schema(settings)  # it writes its heartbeat, and the tasks it schedules need the tables
    os.makedirs(settings.var_dir, exist_ok=True)
    from worker.app import app

    app.start(["beat", "-l", (loglevel or settings.log_level).upper(),
               "--schedule", str(settings.var_dir / "celerybeat-schedule")])


@main.command()
@json_option
def reconcile(as_json: bool) -> None:
    """Run one reconcile sweep now, in this process."""
    from worker.reconciling import reconcile_overdue

    report = reconcile_overdue(load_settings())
    fields = ("fetched", "fetch_calls", "applied", "requeued", "timed_out")
    echo_result(as_json, {name: getattr(report, name) for name in fields},
                f"fetched={report.fetched} fetch_calls={report.fetch_calls} applied={report.applied} "
                f"requeued={report.requeued} timed_out={report.timed_out}")


def _register() -> None:
    from shared.cli.db_commands import db
    from shared.cli.health import health
    from shared.cli.ledger import costs, retry
    from shared.cli.pipeline import pipeline
    from shared.cli.producer import apikey, bulk, deliveries
    from shared.cli.prune import prune
    from shared.cli.run import demo, sandbox, up
    from shared.cli.submit import status, submit
    from shared.cli.watch import watch

    for command in (up, sandbox, demo, submit, status, costs, retry, pipeline, bulk, watch, apikey, deliveries, db,
                    prune, health):
        main.add_command(command)


_register()

if __name__ == "__main__":
    main()

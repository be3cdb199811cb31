"""`hookline submit …` and `hookline status`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click

from shared.admission import parse_priority
from shared.cli.submit_forms import Form, build_command, forms
from shared.cometapi.field_rules import TEXT, URL
from shared.config import Settings, load_settings
from shared.errors import ValidationError
from shared.nesting import NestingTooDeep, loads_bounded
from shared.producer import get_job, submit_job
from shared.schema_check import require_database
from shared.states import JobStatus


def print_job(job: dict[str, Any]) -> None:
    click.echo(f"job {job['id']}  {job['operation']}  {job['status']}"
               + (f"  upstream={job['upstream_task_id']}" if job["upstream_task_id"] else ""))
    if job["error"]:
        click.echo(f"  error: {job['error']}")
    for warning in job.get("warnings") or []:
        click.echo(f"  warning: {warning}")
    for clip in job["clips"]:
        duration = f"{clip['duration']:.1f}s" if clip["duration"] is not None else "?"
        click.echo(f"  clip {clip['id']}  {duration:>7}  {clip['title'] or ''}  {clip['audio_url'] or ''}")
    if job["lyrics"]:
        click.echo(f"  lyrics: {job['lyrics']['title']}")
        for line in (job["lyrics"]["text"] or "").splitlines():
            click.echo(f"    {line}")


def wait_for(job_ids: list[str], timeout: float, settings: Any = None) -> list[dict[str, Any]]:
    """Wait on our own database (not the upstream) until every job is terminal."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = [get_job(j, settings=settings) for j in job_ids]
        if all(JobStatus(j["status"]).terminal for j in jobs) or time.monotonic() > deadline:
            return jobs
        time.sleep(0.25)


def database_settings() -> Settings:
    """The settings, once the database is known to exist (a read never creates an empty SQLite file)."""
    settings = load_settings()
    require_database(settings)
    return settings


def _submit(operation: str, params: dict[str, Any], wait: bool, as_json: bool, timeout: float,
            priority: Any = None) -> None:
    settings = database_settings()
    try:
        job_id = submit_job(operation, params, settings=settings, priority=priority)
    except ValidationError as exc:
        raise click.UsageError(str(exc)) from None
    if not wait:
        click.echo(json.dumps({"id": job_id}) if as_json else job_id)
        return
    from shared.cli.progress import wait_job

    job, code = wait_job(settings, job_id, timeout=timeout, quiet=as_json)  # live progress; exit 1 failed, 3 timeout
    click.echo(json.dumps(job) if as_json else "", nl=as_json)
    if not as_json:
        print_job(job)
    if code:
        raise SystemExit(code)


WAIT = [
    click.option("--wait", is_flag=True, help="wait until the job is finished and print it"),
    click.option("--json", "as_json", is_flag=True, help="machine output"),
    click.option("--timeout", type=float, default=600.0, show_default=True, help="with --wait"),
]


Command = TypeVar("Command", bound=Callable[..., Any])


def with_options(options: list[Callable[[Command], Command]]) -> Callable[[Command], Command]:
    """One decorator that adds ``options`` in the order they are listed (as stacked decorators would)."""

    def decorate(fn: Command) -> Command:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


with_wait = with_options(WAIT)


def _priority(ctx: click.Context, param: click.Parameter, value: str) -> int:
    """Checked before anything is opened or written: a bad value is one line and exit 2."""
    try:
        return parse_priority(value)
    except ValidationError as exc:
        raise click.BadParameter(f"{value!r}: {exc.message}") from None


PRIORITY = click.option("--priority", default="interactive", show_default=True, callback=_priority,
                        help="interactive | pipeline | bulk | a whole number from -1000 to 1000 (higher goes first)")


def parse_param(values: tuple[str, ...], param_hint: str = "--param", shape: str = "key=value",
                text_fields: frozenset[str] = frozenset()) -> dict[str, Any]:
    """key=value options; the value is JSON when it parses as JSON (numbers, true, lists), else a string. A key in
    ``text_fields`` (the upstream documents it as text, e.g. continue_clip_id) always keeps the string as typed."""
    params: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: expected {shape}", param_hint=param_hint)
        try:
            value = loads_bounded(raw)
        except NestingTooDeep as exc:
            raise click.BadParameter(f"{key}: {exc}", param_hint=param_hint) from None
        except ValueError:
            value = raw
        # 12345 for a text field is the text "12345" (an id), never the number
        params[key] = raw if key in text_fields and not isinstance(value, (str, list, dict)) else value
    return params


def _run_form(form: Form, fields: dict[str, Any], extra: tuple[str, ...], wait: bool, as_json: bool,
              timeout: float, priority: Any = None) -> None:
    text_fields = frozenset(name for name, kind in form.spec.kinds.items() if kind in (TEXT, URL))
    given = {**fields, **parse_param(extra, text_fields=text_fields)}
    params = {form.container: given} if form.container else {**(form.preset or {}), **given}
    _submit(form.operation, params, wait, as_json, timeout, priority)


class SubmitGroup(click.Group):
    """`hookline submit`: a command per registered operation and per music mode, built when asked for, so an
    operation registered later (a plugin, a test) has its command too."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [form.name for form in forms()]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = next((form for form in forms() if form.name == cmd_name), None)
        return build_command(found, _run_form, [*WAIT, PRIORITY]) if found is not None else None


@click.group(cls=SubmitGroup)
def submit() -> None:
    """Submit a job: `hookline submit <operation or music mode> --<upstream field> VALUE … [--wait]`.

    Every operation of the registry has a command, and so has every music mode (extend, upload-extend, infill, …).
    Flags are the upstream's own field names; `--param key=value` sets any other field. `--help` on each shows an
    example.
    """


@click.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True)
def status(job_id: str, as_json: bool) -> None:
    """Show a job."""
    job = get_job(job_id, settings=database_settings())
    if as_json:
        click.echo(json.dumps(job))
    else:
        print_job(job)

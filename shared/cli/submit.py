"""`hookline submit …` and `hookline status`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click

from shared.cometapi.operations import LYRICS, MUSIC
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


def _submit(operation: str, params: dict[str, Any], wait: bool, as_json: bool, timeout: float) -> None:
    settings = database_settings()
    try:
        job_id = submit_job(operation, params, settings=settings)
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


def parse_param(values: tuple[str, ...], param_hint: str = "--param", shape: str = "key=value") -> dict[str, Any]:
    """key=value options; the value is JSON when it parses as JSON (numbers, true, lists), else a string."""
    params: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: expected {shape}", param_hint=param_hint)
        try:
            params[key] = loads_bounded(raw)
        except NestingTooDeep as exc:
            raise click.BadParameter(f"{key}: {exc}", param_hint=param_hint) from None
        except ValueError:
            params[key] = raw
    return params


@click.group()
def submit() -> None:
    """Submit a job (params are the upstream's own field names)."""


@submit.command(LYRICS)
@click.option("--prompt", required=True, help="topic or theme")
@with_wait
def submit_lyrics(prompt: str, wait: bool, as_json: bool, timeout: float) -> None:
    """Generate lyrics."""
    _submit(LYRICS, {"prompt": prompt}, wait, as_json, timeout)


@submit.command(MUSIC)
@click.option("--gpt-description-prompt", "--description", "description",
              help="inspiration mode: what the song is about")
@click.option("--prompt", help="custom mode: lyrics with [Verse] markers")
@click.option("--tags", help="custom mode: style tags")
@click.option("--title", help="custom mode: title")
@click.option("--mv", default="chirp-crow", show_default=True, help="model version")
@click.option("--instrumental", is_flag=True, help="make_instrumental")
@click.option("--negative-tags")
@click.option("--param", "extra", multiple=True, help="any other upstream field, key=value (JSON values allowed)")
@with_wait
def submit_music(description: str | None, prompt: str | None, tags: str | None, title: str | None, mv: str,
                 instrumental: bool, negative_tags: str | None, extra: tuple[str, ...], wait: bool, as_json: bool,
                 timeout: float) -> None:
    """Generate music: inspiration (--description) or custom (--prompt --tags --title), or any mode via --param."""
    params: dict[str, Any] = {"mv": mv}
    for key, value in (("gpt_description_prompt", description), ("prompt", prompt), ("tags", tags),
                       ("title", title), ("negative_tags", negative_tags)):
        if value is not None:
            params[key] = value
    if instrumental:
        params["make_instrumental"] = True
    params.update(parse_param(extra))
    _submit(MUSIC, params, wait, as_json, timeout)


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

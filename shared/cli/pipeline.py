"""`hookline pipeline run | status | retry | cancel | validate | examples`."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import click

from shared.cli.progress import wait_pipeline
from shared.cli.submit import parse_param, with_options
from shared.config import Settings, load_settings
from shared.errors import ValidationError
from shared.pipelines import (
    SpecInvalid,
    apply_overrides,
    cancel_pipeline,
    create_pipeline,
    example_names,
    get_pipeline,
    load_spec,
    parse_spec,
    retry_pipeline,
)
from shared.pipelines.estimate import estimate_spec
from shared.pipelines.spec import SpecLimits
from shared.schema_check import require_database


def parse_overrides(values: tuple[str, ...]) -> dict[str, Any]:
    """--set var=value or step.param=value."""
    return parse_param(values, param_hint="--set", shape="var=value or step.param=value")


def _duration(value: float | None) -> str:
    return f"{value:.1f}s" if value is not None else "?"


def print_pipeline(view: dict[str, Any]) -> None:
    click.echo(f"pipeline {view['id']}  {view['name'] or ''}  {view['status']}  cost ${view['cost_usd']:.3f}")
    if view["error"]:
        click.echo(f"  error: {view['error']}")
    for step in view["steps"]:
        jobs = ", ".join(f"{j['id']}({j['status']})" for j in step["jobs"]) or "-"
        click.echo(f"  {step['name']:<16} {step['operation']:<20} {step['status']:<10} jobs: {jobs}")
        if step["reason"]:
            click.echo(f"      reason: {step['reason']}")
        for clip in step["clips"]:
            click.echo(f"      clip {clip['id']}  {_duration(clip['duration']):>7}  {clip['audio_url'] or ''}")
        for job in step["jobs"]:
            if job["result"]:
                click.echo(f"      result: {json.dumps(job['result'])}")


def _show(pipeline_id: str, *, wait: bool, as_json: bool, timeout: float, settings: Settings) -> None:
    """Print a pipeline; with ``wait``, after live progress (shared.cli.progress), exiting 1 failed / 3 timed out."""
    code = 0
    if wait:
        view, code = wait_pipeline(settings, pipeline_id, timeout=timeout, quiet=as_json)
    else:
        view = get_pipeline(pipeline_id, settings=settings)
    if as_json:
        click.echo(json.dumps(view))
    else:
        print_pipeline(view)
    if code:
        raise SystemExit(code)


def _spec_errors(exc: ValidationError, as_json: bool) -> NoReturn:
    """Every error of a spec (SpecInvalid), or one ValidationError (OverBudget: the estimate over a budget)."""
    if as_json:
        errors = exc.as_json() if isinstance(exc, SpecInvalid) else [
            {"where": exc.where, "field": exc.field, "message": exc.message}]
        click.echo(json.dumps({"errors": errors}))
    else:
        click.echo(f"hookline: {exc}", err=True)
    raise SystemExit(2)


@click.group()
def pipeline() -> None:
    """Multi-step pipelines from a spec file (YAML or JSON) or a bundled example (see `pipeline examples`)."""


SET_OPTION = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                          help="override a var (name=value) or a step's param (step.param=value); JSON values allowed")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="machine output")
WAIT_OPTIONS = [
    click.option("--wait", is_flag=True, help="wait until the pipeline has finished, then print it"),
    click.option("--timeout", type=float, default=3600.0, show_default=True, help="with --wait, seconds"),
]


with_wait = with_options(WAIT_OPTIONS)


@pipeline.command("run")
@click.argument("spec")
@SET_OPTION
@click.option("--name", help="name the pipeline (default: the spec's name)")
@click.option("--priority", default=None, help="of its jobs: interactive, pipeline (the default), bulk or an integer")
@with_wait
@JSON_OPTION
def run(spec: str, overrides: tuple[str, ...], name: str | None, priority: str | None, wait: bool, timeout: float,
        as_json: bool) -> None:
    """Validate SPEC in full, then start it (nothing is sent when anything is wrong)."""
    from shared.cli.apikeys import cli_priority

    settings = load_settings()
    require_database(settings)
    chosen = cli_priority(priority)
    try:
        document = apply_overrides(load_spec(spec), parse_overrides(overrides))
        pipeline_id = create_pipeline(settings, document, name=name, priority=chosen)
    except ValidationError as exc:  # SpecInvalid, OverBudget
        _spec_errors(exc, as_json)
    if not wait:
        click.echo(json.dumps({"id": pipeline_id}) if as_json else pipeline_id)
        return
    _show(pipeline_id, wait=True, as_json=as_json, timeout=timeout, settings=settings)


@pipeline.command("validate")
@click.argument("spec")
@SET_OPTION
@JSON_OPTION
def validate(spec: str, overrides: tuple[str, ...], as_json: bool) -> None:
    """Check SPEC without running it, within the configured limits, and show its cost estimate."""
    limits = SpecLimits.of(load_settings())
    try:
        parsed = parse_spec(apply_overrides(load_spec(spec), parse_overrides(overrides)), limits)
    except SpecInvalid as exc:
        _spec_errors(exc, as_json)
    estimate = estimate_spec(parsed, limits.max_fan_out)
    steps = [{"name": s.name, "op": s.op, "depends_on": list(s.depends_on)} for s in parsed.steps.values()]
    if as_json:
        click.echo(json.dumps({"ok": True, "order": list(parsed.order), "steps": steps, **estimate.as_json()}))
    else:
        click.echo(f"ok: {len(steps)} steps, in order: {' -> '.join(parsed.order)}")
        click.echo(f"estimated cost: at most ${estimate.usd:.3f}" + (f" ({estimate.note})" if estimate.note else ""))


@pipeline.command("status")
@click.argument("pipeline_id")
@JSON_OPTION
def status(pipeline_id: str, as_json: bool) -> None:
    """Show a pipeline: each step's status, reason, jobs, clips and results, and the total cost."""
    settings = load_settings()
    require_database(settings)
    _show(pipeline_id, wait=False, as_json=as_json, timeout=0, settings=settings)


@pipeline.command("retry")
@click.argument("pipeline_id")
@SET_OPTION
@with_wait
@JSON_OPTION
def retry(pipeline_id: str, overrides: tuple[str, ...], wait: bool, timeout: float, as_json: bool) -> None:
    """Re-run the failed, skipped and canceled steps only; succeeded steps are not paid for again."""
    settings = load_settings()
    require_database(settings)
    try:
        job_ids = retry_pipeline(settings, pipeline_id, overrides=parse_overrides(overrides))
    except SpecInvalid as exc:
        _spec_errors(exc, as_json)
    if not wait:
        click.echo(json.dumps({"id": pipeline_id, "jobs": job_ids}) if as_json else
                   f"pipeline {pipeline_id} retried; new jobs: {', '.join(job_ids) or 'none yet'}")
        return
    _show(pipeline_id, wait=True, as_json=as_json, timeout=timeout, settings=settings)


@pipeline.command("cancel")
@click.argument("pipeline_id")
@JSON_OPTION
def cancel(pipeline_id: str, as_json: bool) -> None:
    """Cancel a running pipeline: no new steps start; queued jobs are canceled, submitted ones finish."""
    settings = load_settings()
    require_database(settings)
    canceled = cancel_pipeline(settings, pipeline_id)
    if as_json:
        click.echo(json.dumps({"id": pipeline_id, "canceled_jobs": canceled}))
    else:
        click.echo(f"pipeline {pipeline_id}: {get_pipeline(pipeline_id, settings=settings)['status']}; "
                   f"queued jobs canceled: {', '.join(canceled) or 'none'}")


@pipeline.command("examples")
@JSON_OPTION
def examples(as_json: bool) -> None:
    """List the bundled example specs (run one by name: `hookline pipeline run long-song`)."""
    names = list(example_names())
    click.echo(json.dumps(names) if as_json else "\n".join(names))

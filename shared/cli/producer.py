"""`hookline bulk` and `hookline deliveries …` (``watch`` lives in shared/cli/watch.py, ``apikey`` in
shared/cli/apikeys.py, re-exported here)."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from shared.bulk.accept import CHUNK_SIZE, BulkReport, accept_bulk, check_bulk_budget, validate_bulk
from shared.bulk.source import FORMATS, BulkSource
from shared.cli.apikeys import apikey, cli_priority
from shared.cli.db_commands import echo_result, json_option
from shared.config import load_settings
from shared.db import open_session
from shared.errors import ValidationError
from shared.jobs.ledger import OverBudget
from shared.models import Delivery
from shared.schema_check import require_database
from shared.states import DeliveryStatus

__all__ = ["apikey", "bulk", "deliveries"]


def _source(file: str, fmt: str) -> tuple[BulkSource, Path | None]:
    """The bulk file; standard input ("-") is spooled to a temporary file, since it is read twice."""
    if file != "-":
        return BulkSource.from_path(file, fmt), None
    spool = Path(tempfile.mkstemp(prefix="hookline-bulk-", suffix=".jsonl")[1])
    with spool.open("wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out)
    return BulkSource.from_path(spool, fmt), spool


def _print_report(report: BulkReport) -> None:
    for error in report.errors:
        click.echo(str(error), err=True)
    if len(report.errors) < report.invalid:
        click.echo(f"… and more: {report.invalid} invalid lines in all", err=True)
    click.echo(f"{report.source}: {report.lines} lines, {report.valid} valid, {report.invalid} invalid", err=True)
    if report.valid:
        note = f" ({report.estimate.note})" if report.estimate.note else ""
        click.echo(f"estimated cost: at most ${report.estimate.usd:.3f}{note}", err=True)
    if report.bulk_id:
        verb = "resumed" if report.resumed else "created"
        click.echo(f"batch {report.bulk_id} ({verb}): {report.accepted} accepted now, {report.already_accepted} "
                   f"accepted earlier, {report.duplicates} duplicate lines skipped"
                   + (f", rate cap {report.rate}/s" if report.rate else ""), err=True)
    for line in report.interrupted:
        click.echo(f"line {line}: an earlier run was interrupted creating its pipeline; not created again "
                   "(check the batch's pipelines)", err=True)


@click.command()
@click.argument("file")
@click.option("--skip-invalid", is_flag=True, help="accept the valid lines even when some are bad")
@click.option("--rate", type=float, default=None, help="cap on upstream submits per second for this batch")
@click.option("--wait", is_flag=True, help="live progress until every line is finished, then a summary")
@click.option("--json", "as_json", is_flag=True, help="machine output (a JSON report on stdout)")
@click.option("--callback-url", default=None, help="gets bulk.finished (Standard Webhooks)")
@click.option("--name", default=None, help="label of the batch (default: the file name)")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True)
@click.option("--timeout", type=float, default=24 * 3600.0, show_default=True, help="with --wait, seconds")
@click.option("--chunk-size", type=int, default=CHUNK_SIZE, show_default=True, hidden=True)
@click.option("--dry-run", is_flag=True, help="validate every line and show the cost estimate; write nothing")
@click.option("--priority", default=None, help="interactive, pipeline, bulk (the default) or an integer")
def bulk(file: str, skip_invalid: bool, rate: float | None, wait: bool, as_json: bool, callback_url: str | None,
         name: str | None, fmt: str, timeout: float, chunk_size: int, dry_run: bool, priority: str | None) -> None:
    """Enqueue a JSONL (or CSV) file of jobs or pipelines, one per line.

    Every line is validated first; with any bad line nothing is enqueued (unless --skip-invalid). Lines carry a
    "key" (else a hash of the line): running the same file again enqueues only the lines not accepted yet, so an
    interrupted run is resumed by running it again. A file whose cost estimate exceeds what the daily budget has
    left is refused. Exit status: 0 done, 1 bad lines or over budget (or, with --wait, failed work), 2 bad usage.

    \b
    One line is a job or a pipeline; the fields are operation, params, key, callback_url, pipeline, name:
      {"operation": "music", "params": {"gpt_description_prompt": "a cat"}, "key": "cat-1", "callback_url": "https://…"}
      {"pipeline": {…a spec, as in spec.json…}, "name": "album 1", "key": "album-1"}
    Only operation (with params) or pipeline is needed; key, callback_url and name are optional.
    CSV: a header row naming the same fields (params and pipeline cells hold JSON); any other column is a
    param (text; name it <field>:json for a JSON value, e.g. continue_at:json).
    """
    settings = load_settings()
    require_database(settings)
    chosen = cli_priority(priority)
    try:
        source, spool = _source(file, fmt)
    except ValidationError as exc:
        raise click.BadParameter(exc.message, param_hint="FILE") from None
    progress_shown = not as_json and sys.stderr.isatty()

    def show(report: BulkReport) -> None:
        if progress_shown:
            click.echo(f"\raccepted {report.accepted + report.already_accepted}/{report.valid}", err=True, nl=False)

    try:
        if dry_run:
            _dry_run(settings, source, as_json=as_json, skip_invalid=skip_invalid)
        report = accept_bulk(settings, source, callback_url=callback_url, rate=rate, name=name,
                             skip_invalid=skip_invalid, chunk_size=chunk_size, on_progress=show, priority=chosen)
    except OverBudget as exc:
        refusal = {"error": exc.message, "estimated_cost_usd": round(exc.estimate_usd, 6),
                   "remaining_usd": round(exc.remaining_usd, 6)}
        click.echo(json.dumps(refusal) if as_json else f"hookline: {exc.message}", err=not as_json)
        raise SystemExit(1) from None
    except ValidationError as exc:
        raise click.BadParameter(exc.message, param_hint=f"--{(exc.field or 'file').replace('_', '-')}") from None
    finally:
        if spool is not None:
            spool.unlink(missing_ok=True)
    if progress_shown:
        click.echo("", err=True)
    refused = bool(report.invalid and not skip_invalid)
    result: dict[str, Any] = report.as_json()
    if not as_json:
        _print_report(report)
        if refused:
            click.echo(f"{report.invalid} invalid line(s): nothing was enqueued (fix them, or use --skip-invalid)",
                       err=True)
    if refused or report.bulk_id is None:
        if as_json:
            click.echo(json.dumps(result))
        raise SystemExit(1)
    failed = False
    if wait:
        from shared.cli.watch import bulk_failures, bulk_summary, wait_for_bulk

        final = wait_for_bulk(settings, report.bulk_id, timeout=timeout, live=not as_json)
        failures = bulk_failures(settings, report.bulk_id)
        result["progress"] = final
        failed = bool(final["failed"] or final["canceled"] or not final["finished"])
        if not as_json:
            from rich.console import Console

            Console().print(bulk_summary(final, failures))
    if as_json:
        click.echo(json.dumps(result))
    elif not wait:
        click.echo(report.bulk_id)
    if failed:
        raise SystemExit(1)


def _dry_run(settings: Any, source: BulkSource, *, as_json: bool, skip_invalid: bool) -> None:
    """Validate and estimate (the budget check reads, never writes), print the report, and exit."""
    report = validate_bulk(settings, source)
    if report.valid:
        check_bulk_budget(settings, source, report)  # OverBudget is reported by the caller
    refused = bool(report.invalid and not skip_invalid) or not report.valid
    if as_json:
        click.echo(json.dumps({**report.as_json(), "dry_run": True}))
    else:
        _print_report(report)
        click.echo("dry run: nothing was written" + ("; the file would be refused" if refused else ""), err=True)
    raise SystemExit(1 if refused else 0)


@click.group(invoke_without_command=True)
@click.option("--failed", is_flag=True, help="only deliveries that failed or were disabled")
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", type=int, default=50, show_default=True)
@click.pass_context
def deliveries(ctx: click.Context, failed: bool, as_json: bool, limit: int) -> None:
    """Outgoing webhook deliveries, newest first (`deliveries redeliver ID` sends one again)."""
    if ctx.invoked_subcommand is not None:
        return
    require_database(load_settings())
    from shared.outgoing import delivery_json

    stmt = select(Delivery).order_by(Delivery.created_at.desc()).limit(limit)
    if failed:
        stmt = stmt.where(Delivery.status.in_([DeliveryStatus.FAILED.value, DeliveryStatus.DISABLED.value]))
    with open_session(load_settings()) as session:
        rows = [delivery_json(d) for d in session.scalars(stmt)]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for d in rows:
        error = f"  {d['last_error'][:80]}" if d["last_error"] else ""
        click.echo(f"{d['id']}  {d['event_type']:<18} {d['status']:<9} tries={d['attempts']} "
                   f"http={d['last_http_status'] or '-'}  {d['target_url']}{error}")


@deliveries.command("redeliver")
@click.argument("delivery_id")
@click.option("--json", "as_json", is_flag=True)
def deliveries_redeliver(delivery_id: str, as_json: bool) -> None:
    """Send one delivery again now (one attempt, in this process; same webhook-id, fresh signature)."""
    require_database(load_settings())
    from shared.outgoing import AttemptStatus, deliver

    result = deliver(load_settings(), delivery_id, manual=True)
    if result.status is AttemptStatus.MISSING:
        raise click.BadParameter(f"no delivery {delivery_id!r}", param_hint="DELIVERY_ID")
    status = result.status.value
    if as_json:
        click.echo(json.dumps({"id": delivery_id, "status": status, "http_status": result.http_status,
                               "error": result.error}))
    else:
        click.echo(f"{delivery_id}: {status}" + (f" (HTTP {result.http_status})" if result.http_status else "")
                   + (f": {result.error}" if result.error else ""))
    if result.status is not AttemptStatus.DELIVERED:
        raise SystemExit(1)


@deliveries.command("enable-endpoint")
@click.argument("url")
@json_option
def deliveries_enable_endpoint(url: str, as_json: bool) -> None:
    """Forget a 410 Gone: events to URL are sent again (redeliver the ones it missed)."""
    require_database(load_settings())
    from shared.outgoing import enable_endpoint

    with open_session(load_settings()) as session:
        changed = enable_endpoint(session, url)
    echo_result(as_json, {"url": url, "was_disabled": changed},
                f"{url}: {'enabled' if changed else 'was not disabled'}")

"""`hookline costs` and `hookline retry`: the ledger and the operator's requeue."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from shared.cli.submit import database_settings
from shared.db import open_session
from shared.jobs.ledger import BUDGET_EXCEEDED, cost_summary, requeue_unsent
from shared.models import Job
from shared.states import JobStatus


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected a date like 2026-11-21 or 2026-11-21T08:00",
                                 param_hint="--since") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.command()
@click.option("--since", default=None, help="only calls from this date/time on (ISO 8601, UTC)")
@click.option("--json", "as_json", is_flag=True)
def costs(since: str | None, as_json: bool) -> None:
    """What the upstream calls cost (the documented prices), by day and operation; possible double charges apart;
    and the account's remaining balance where the upstream answers the balance query ("unknown" elsewhere)."""
    from shared.cometapi.balance import query_balance

    settings = database_settings()
    with open_session(settings) as session:
        summary = cost_summary(session, _parse_since(since))
    balance = query_balance(settings)
    summary["balance"] = {"remaining_usd": balance.remaining_usd, "used_usd": balance.used_usd,
                          "detail": balance.detail or None}
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo(f"total ${summary['total_usd']:.3f} over {summary['calls']} charged calls"
               f" (possible duplicates: ${summary['possible_duplicate_usd']:.3f};"
               f" free calls not counted: {summary['free_calls']})")
    click.echo(f"balance: {balance.shown()}")
    for day, usd in summary["by_day"].items():
        click.echo(f"  {day}  ${usd:.3f}")
    for operation, entry in summary["by_operation"].items():
        click.echo(f"  {operation:<10} {entry['calls']:>6} calls  ${entry['usd']:.3f}")


@click.command()
@click.argument("job_ids", nargs=-1)
@click.option("--budget-exceeded", is_flag=True, help="requeue every job that failed with 'budget exceeded'")
@click.option("--json", "as_json", is_flag=True, help="print {requeued: [...], refused: [...]}")
def retry(job_ids: tuple[str, ...], budget_exceeded: bool, as_json: bool) -> None:
    """Requeue failed jobs the upstream never accepted (e.g. after raising the budget cap). Never re-pays."""
    from sqlalchemy import select

    from shared.producer import enqueue_jobs

    if not job_ids and not budget_exceeded:
        raise click.UsageError("name job ids, or pass --budget-exceeded")
    settings = database_settings()
    requeued: list[str] = []
    refused: list[str] = []
    with open_session(settings) as session:
        ids = list(job_ids)
        if budget_exceeded:
            ids += list(session.scalars(select(Job.id).where(Job.status == JobStatus.FAILED.value,
                                                             Job.error.like(f"{BUDGET_EXCEEDED}%"))))
        for job_id in ids:
            if session.get(Job, job_id) is None:
                raise click.BadParameter(f"no job {job_id!r}", param_hint="JOB_IDS")
            (requeued if requeue_unsent(session, job_id) else refused).append(job_id)
        session.commit()
    enqueue_jobs(settings, requeued)
    if as_json:
        click.echo(json.dumps({"requeued": requeued, "refused": refused}))
        raise SystemExit(1 if refused else 0)
    for job_id in requeued:
        click.echo(f"requeued {job_id}")
    for job_id in refused:
        click.echo(f"not requeued {job_id}: not failed, or the upstream accepted a request for it")
    if refused:
        raise SystemExit(1)

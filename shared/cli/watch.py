"""Live views for the terminal (rich): ``hookline watch`` and the progress of ``hookline bulk --wait``."""

from __future__ import annotations

import json
import time
from datetime import UTC
from typing import Any

import click
from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.admission.priority import priority_name
from shared.admission.views import admission_summary, queue_position
from shared.bulk.progress import bulk_progress, list_batches
from shared.config import Settings, load_settings
from shared.db import open_session
from shared.models import Job, Pipeline
from shared.schema_check import require_database
from shared.states import TERMINAL, JobStatus, PipelineStatus


def unfinished_statuses() -> list[str]:
    return [s.value for s in JobStatus if s not in TERMINAL]


def in_flight_snapshot(session: Session, limit: int = 15) -> dict[str, Any]:
    """Work not finished yet: job counts by state, the oldest unfinished jobs, running pipelines, open batches."""
    statuses = unfinished_statuses()
    counts = dict(session.execute(select(Job.status, func.count(Job.id)).where(Job.status.in_(statuses))
                                  .group_by(Job.status)).all())
    jobs = session.scalars(select(Job).where(Job.status.in_(statuses)).order_by(Job.created_at).limit(limit))
    pipelines = session.scalars(select(Pipeline).where(Pipeline.status == PipelineStatus.RUNNING.value)
                                .order_by(Pipeline.created_at).limit(limit))
    return {
        "jobs": {s: int(counts.get(s, 0)) for s in statuses},
        "oldest_jobs": [{"id": j.id, "operation": j.operation, "status": j.status, "progress": j.progress,
                         "created_at": j.created_at.isoformat(), "pipeline_id": j.pipeline_id, "bulk_id": j.bulk_id,
                         "priority": j.priority, "owner": j.owner, "queue": queue_position(session, j)}
                        for j in jobs],
        "admission": admission_summary(session),
        "pipelines": [{"id": p.id, "name": p.name, "status": p.status, "created_at": p.created_at.isoformat(),
                       "steps": {s.name: s.status for s in p.steps}} for p in pipelines],
        "bulk": list_batches(session, unfinished_only=True, limit=limit),
    }


def _age(iso: str) -> str:
    from datetime import datetime

    seconds = (datetime.now(UTC) - datetime.fromisoformat(iso)).total_seconds()
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f}m" if seconds < 7200 else f"{seconds / 3600:.0f}h"


TABLE_STYLE: dict[str, Any] = {"box": box.SIMPLE_HEAD, "show_edge": False, "pad_edge": False,
                               "collapse_padding": True}  # narrow borders, so every header fits 80 columns
ID_MIN_WIDTH = 8  # an id's first 8 characters tell it apart in a narrow terminal; the rest folds below


def _column(table: Table, header: str) -> None:
    """A column whose header is never cut, at any terminal width (its cells fold onto more lines instead)."""
    table.add_column(header, min_width=len(header), overflow="fold")


def _id_column(table: Table, header: str) -> None:
    """Ids fold onto a second line in a narrow terminal rather than pushing the other headers out."""
    table.add_column(header, overflow="fold", min_width=ID_MIN_WIDTH)


def render_snapshot(snapshot: dict[str, Any]) -> RenderableType:
    counts = "  ".join(f"{status} [bold]{n}[/]" for status, n in snapshot["jobs"].items())
    jobs = Table(title="oldest unfinished jobs", expand=True, **TABLE_STYLE)
    _id_column(jobs, "job")
    for column in ("operation", "status", "progress", "age", "pipeline / bulk", "priority", "queue"):
        _column(jobs, column)
    for j in snapshot["oldest_jobs"]:
        jobs.add_row(j["id"], j["operation"], j["status"], j["progress"] or "", _age(j["created_at"]),
                     (j["pipeline_id"] or j["bulk_id"] or "")[:8], priority_name(j["priority"]), _queue(j["queue"]))
    pipelines = Table(title="running pipelines", expand=True, **TABLE_STYLE)
    _id_column(pipelines, "pipeline")
    for column in ("name", "steps", "age"):
        _column(pipelines, column)
    for p in snapshot["pipelines"]:
        steps = " ".join(f"{name}:{status}" for name, status in p["steps"].items())
        pipelines.add_row(p["id"], p["name"] or "", steps, _age(p["created_at"]))
    batches = Table(title="open bulk batches", expand=True, **TABLE_STYLE)
    _id_column(batches, "batch")
    for column in ("name", "done/total", "queued", "running", "succeeded", "failed", "cost $"):
        _column(batches, column)
    for b in snapshot["bulk"]:
        done = b["succeeded"] + b["failed"] + b["canceled"]
        batches.add_row(b["id"], b["name"] or "", f"{done}/{b['total']}", str(b["queued"]), str(b["running"]),
                        str(b["succeeded"]), str(b["failed"] + b["canceled"]), f"{b['cost_usd']:.3f}")
    stamp = time.strftime("%H:%M:%S")
    return Group(Text.from_markup(f"[dim]{stamp}[/]  jobs in flight: {counts}"),
                 Text(_admission_line(snapshot["admission"])), jobs, pipelines, batches)


def _queue(queue: dict[str, Any] | None) -> str:
    """A queued job's place: "admitted", or "#position: why it waits"."""
    if queue is None:
        return ""
    return "admitted" if queue["admitted"] else f"#{queue['position']}: {queue['reason']}"


def _admission_line(admission: dict[str, Any]) -> str:
    cap = admission["cap"] or "no cap"
    waiting = ", ".join(f"{w['priority']}/{w['owner']} {w['jobs']}" for w in admission["waiting"]) or "none"
    line = f"admission: in flight {admission['in_flight'] or 0} of {cap}; waiting (priority/owner): {waiting}"
    return line + (f"; holding back: {admission['blocked']}" if admission["blocked"] else "")


def watch_in_flight(settings: Settings, *, interval: float, once: bool, limit: int) -> None:
    console = Console()

    def snapshot() -> dict[str, Any]:
        with open_session(settings) as session:
            return in_flight_snapshot(session, limit)

    if once:
        console.print(render_snapshot(snapshot()))
        return
    with Live(render_snapshot(snapshot()), console=console, refresh_per_second=4, screen=False) as live:
        try:
            while True:
                time.sleep(interval)
                live.update(render_snapshot(snapshot()))
        except KeyboardInterrupt:
            pass


def render_bulk(progress: dict[str, Any], started: float) -> RenderableType:
    done = progress["succeeded"] + progress["failed"] + progress["canceled"]
    total = max(progress["total"], 1)
    line = (f"[bold]{progress['name'] or progress['id']}[/]  {done}/{progress['total']}  queued {progress['queued']}  "
            f"running {progress['running']}  [green]succeeded {progress['succeeded']}[/]  "
            f"[red]failed {progress['failed'] + progress['canceled']}[/]  ${progress['cost_usd']:.3f}  "
            f"[dim]{time.monotonic() - started:.0f}s[/]")
    return Group(Text.from_markup(line), ProgressBar(total=total, completed=done))


def wait_for_bulk(settings: Settings, bulk_id: str, *, timeout: float, live: bool) -> dict[str, Any]:
    """Poll our own database until the batch is finished (or ``timeout``), drawing a live bar when ``live``."""
    started, deadline = time.monotonic(), time.monotonic() + timeout

    def read() -> dict[str, Any]:
        with open_session(settings) as session:
            progress = bulk_progress(session, bulk_id)
        assert progress is not None
        return progress

    progress = read()
    display = Live(render_bulk(progress, started), console=Console(stderr=True), refresh_per_second=4,
                   transient=False) if live else None
    if display is not None:
        display.start()
    try:
        while not progress["finished"] and time.monotonic() < deadline:
            time.sleep(0.5)
            progress = read()
            if display is not None:
                display.update(render_bulk(progress, started))
    finally:
        if display is not None:
            display.stop()
    return progress


def bulk_summary(progress: dict[str, Any], failures: list[dict[str, Any]]) -> RenderableType:
    table = Table(title=f"bulk {progress['id']}" + (f" ({progress['name']})" if progress["name"] else ""))
    table.add_column("lines")
    for column in ("succeeded", "failed", "canceled", "unfinished", "cost $"):
        table.add_column(column, justify="right")
    table.add_row(str(progress["accepted"]), str(progress["succeeded"]), str(progress["failed"]),
                  str(progress["canceled"]), str(progress["queued"] + progress["running"]),
                  f"{progress['cost_usd']:.3f}")
    if not failures:
        return table
    failed = Table(title="failed (first 20)")
    failed.add_column("job")
    failed.add_column("status")
    failed.add_column("error")
    for f in failures:
        failed.add_row(f["id"], f["status"], f["error"] or "")
    return Group(table, failed)


def bulk_failures(settings: Settings, bulk_id: str, limit: int = 20) -> list[dict[str, Any]]:
    with open_session(settings) as session:
        rows = session.execute(select(Job.id, Job.status, Job.error).where(
            Job.bulk_id == bulk_id, Job.status.in_([JobStatus.FAILED.value, JobStatus.CANCELED.value])).limit(limit))
        return [{"id": i, "status": s, "error": e} for i, s, e in rows]


@click.command()
@click.option("--once", is_flag=True, help="print one snapshot and exit")
@click.option("--json", "as_json", is_flag=True, help="one snapshot as JSON")
@click.option("--interval", type=float, default=1.0, show_default=True, help="seconds between refreshes")
@click.option("--limit", type=int, default=15, show_default=True, help="rows per table")
def watch(once: bool, as_json: bool, interval: float, limit: int) -> None:
    """Live state of in-flight work: jobs, pipelines and bulk batches, refreshed in place (Ctrl-C stops)."""
    settings = load_settings()
    require_database(settings)
    if as_json:
        with open_session(settings) as session:
            click.echo(json.dumps(in_flight_snapshot(session, limit)))
        return
    watch_in_flight(settings, interval=max(0.2, interval), once=once, limit=limit)

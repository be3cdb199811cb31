"""Prometheus metrics computed from the database at scrape time, and the health probes the dashboard shares.

Why DB-derived: workers, receivers and beat are separate processes on any number of machines. In-process counters
would need a multiprocess directory or a push gateway and would still lose counts when a process dies. The rows
(jobs, callbacks, the attempts ledger, heartbeats) already are the truth, so each scrape runs a handful of aggregate
queries: GROUP BY over indexed columns, one CASE-per-bucket pass for each histogram. Any receiver can serve
/metrics and every one gives the same answer. Counters are cumulative over the rows kept; pruning old rows looks to
Prometheus like a counter reset, which rate() handles.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, case, extract, func, select, text
from sqlalchemy.orm import Session, aliased, sessionmaker

from shared.config import Settings
from shared.models import Attempt, CallbackRecord, CostDay, Heartbeat, Job, OutboxMessage, Pipeline, utcnow
from shared.states import IN_FLIGHT
from shared.tasks import FILES_QUEUE, QUEUE
from webhook.metrics_admission import WAIT_BUCKETS, admission_gauges

log = logging.getLogger("hookline.metrics")

BROKER_QUEUES = (QUEUE, FILES_QUEUE)  # the worker's two queues (jobs and follow-ups; artifact downloads)
WORKER_PREFIX = "worker:"  # worker.heartbeats.WORKER_PREFIX
RECONCILE_HEARTBEAT = "reconcile"
ALIVE_AFTER = timedelta(seconds=35)  # three missed 10 s heartbeats (plus slack) and a worker counts as gone
HANDOFF_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
JOB_BUCKETS = (5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)


def seconds_between(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    """``end - start`` in seconds, in SQL (naive UTC columns on SQLite, timestamps on PostgreSQL)."""
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    if dialect == "postgresql":
        return extract("epoch", end - start)
    raise NotImplementedError(f"no seconds_between for {dialect}")


# --- probes shared with the dashboard's health page ---------------------------------------------------------


@dataclass(frozen=True)
class WorkerSeen:
    hostname: str
    seen_at: datetime
    state: str
    alive: bool


def workers_seen(session: Session, now: datetime | None = None) -> list[WorkerSeen]:
    now = now or utcnow()
    rows = session.scalars(select(Heartbeat).where(Heartbeat.name.startswith(WORKER_PREFIX)).order_by(Heartbeat.name))
    seen = []
    for row in rows:
        state = str((row.detail or {}).get("state", "running"))
        seen.append(WorkerSeen(row.name[len(WORKER_PREFIX):], row.seen_at, state,
                               state == "running" and now - row.seen_at <= ALIVE_AFTER))
    return seen


def last_sweep(session: Session) -> Heartbeat | None:
    return session.get(Heartbeat, RECONCILE_HEARTBEAT)


def overdue_filter(now: datetime) -> list[ColumnElement[bool]]:
    """In-flight jobs whose callback is overdue: served by the (status, next_check_at) index."""
    return [Job.status.in_([s.value for s in IN_FLIGHT]), Job.next_check_at < now]


def overdue_count(session: Session, now: datetime | None = None) -> int:
    return int(session.scalar(select(func.count()).select_from(Job).where(*overdue_filter(now or utcnow()))) or 0)


@lru_cache(maxsize=1)
def _build_labels() -> tuple[str, str, str]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("hookline")
    except PackageNotFoundError:  # running from a checkout that was never installed
        ours = "unknown"
    from shared.db import head_revision

    try:
        schema = head_revision(Settings()) or ""  # read from the migration scripts; no database is opened
    except Exception:  # noqa: BLE001 - build info must never fail a scrape
        schema = ""
    return ours, platform.python_version(), schema


def build_info() -> Metric:
    """``hookline_build_info{version, python, schema} 1``: which code answers (join it onto other series)."""
    info = GaugeMetricFamily("hookline_build_info", "The hookline version, Python version and the schema revision "
                             "this code expects; always 1.", labels=["version", "python", "schema"])
    info.add_metric(list(_build_labels()), 1)
    return info


@lru_cache(maxsize=4)
def _redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def queue_depth(settings: Settings) -> int | None:
    """Messages waiting in the worker's queues (``hookline`` and ``hookline.files``), or None when the broker cannot
    be read."""
    url = settings.broker_url
    try:
        if url.startswith(("redis://", "rediss://", "unix://")):
            return sum(int(_redis_client(url).llen(queue)) for queue in BROKER_QUEUES)
        if settings.embedded_broker:
            return _embedded_queue_depth(url.split("+", 1)[1])
    except Exception as exc:  # noqa: BLE001 - a broker hiccup must not fail the page or the scrape
        log.warning("cannot read queue depth from the broker: %s", type(exc).__name__)
    return None


def _embedded_queue_depth(database_url: str) -> int:
    """kombu's SQLAlchemy transport: visible rows of kombu_message in our queues (delivered ones are invisible)."""
    from sqlalchemy import inspect

    from shared.db import engine_for

    engine = engine_for(database_url)
    with engine.connect() as conn:
        if not inspect(conn).has_table("kombu_message"):
            return 0  # nothing was ever sent
        count = conn.execute(
            text("SELECT count(*) FROM kombu_message m JOIN kombu_queue q ON q.id = m.queue_id "
                 "WHERE q.name IN (:jobs, :files) AND m.visible"),
            {"jobs": BROKER_QUEUES[0], "files": BROKER_QUEUES[1]},
        ).scalar()
    return int(count or 0)


# --- the collector ------------------------------------------------------------------------------------------


def _once(stmt: Any, name: str, dialect: str) -> Any:
    """``stmt`` as a CTE computed once. Without MATERIALIZED, SQLite flattens it into the outer query and
    evaluates the seconds expression again for every bucket (measured: 6x slower at 100k jobs)."""
    import sqlite3

    cte = stmt.cte(name)
    if dialect == "postgresql" or (dialect == "sqlite" and sqlite3.sqlite_version_info >= (3, 35)):
        cte = cte.prefix_with("MATERIALIZED")
    return cte


def _histogram(session: Session, name: str, doc: str, seconds: Any, source: Any, buckets: Sequence[float],
               label: Any = None, label_name: str = "") -> HistogramMetricFamily:
    """One pass over ``source``: count, sum and one CASE per bucket (cumulative by construction)."""
    columns = [func.count(), func.coalesce(func.sum(seconds), 0.0)]
    columns += [func.sum(case((seconds <= bound, 1), else_=0)) for bound in buckets]
    stmt = select(*columns, *([label] if label is not None else [])).select_from(source)
    if label is not None:
        stmt = stmt.group_by(label)
    family = HistogramMetricFamily(name, doc, labels=[label_name] if label_name else None)
    for row in session.execute(stmt):
        count, total, *cumulative = row
        labels = [str(cumulative.pop())] if label is not None else []
        points = [(str(b), float(c or 0)) for b, c in zip(buckets, cumulative, strict=True)] + [("+Inf", float(count))]
        family.add_metric(labels, points, float(total or 0))
    return family


class HooklineCollector(Collector):
    """Every metric of hookline, read from the database (and the broker) when Prometheus scrapes."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions

    def describe(self) -> Iterable[Metric]:
        return []  # no up-front query at registration

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        yield build_info()
        with self.sessions() as session:
            dialect = session.get_bind().dialect.name
            yield from self._counts(session)
            yield from self._ledger(session, now)
            yield from self._latencies(session, dialect)
            yield from self._liveness(session, now)
            yield from admission_gauges(session)
        depth = queue_depth(self.settings)
        if depth is not None:
            yield GaugeMetricFamily("hookline_broker_queue_depth", "Messages waiting in the broker queue.",
                                    value=depth)

    def _counts(self, session: Session) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("hookline_jobs", "Jobs by status and operation.", labels=["status", "operation"])
        for status, operation, count in session.execute(
            select(Job.status, Job.operation, func.count()).group_by(Job.status, Job.operation)
        ):
            jobs.add_metric([status, operation], count)
        yield jobs
        pipelines = GaugeMetricFamily("hookline_pipelines", "Pipelines by status.", labels=["status"])
        for status, count in session.execute(select(Pipeline.status, func.count()).group_by(Pipeline.status)):
            pipelines.add_metric([status], count)
        yield pipelines
        callbacks = CounterMetricFamily("hookline_callbacks", "Inbound callbacks by verdict.", labels=["verdict"])
        for verdict, count in session.execute(
            select(CallbackRecord.verdict, func.count()).group_by(CallbackRecord.verdict)
        ):
            callbacks.add_metric([verdict], count)
        yield callbacks

    def _ledger(self, session: Session, now: datetime) -> Iterator[Metric]:
        calls = CounterMetricFamily("hookline_upstream_calls", "Upstream calls by operation, HTTP status, outcome.",
                                    labels=["operation", "endpoint", "http_status", "outcome"])
        cost = CounterMetricFamily("hookline_upstream_cost_usd", "Upstream spend in USD by operation.",
                                   labels=["operation"])
        spent: dict[str, float] = {}
        for operation, endpoint, status, outcome, count, usd in session.execute(
            select(Attempt.operation, Attempt.endpoint, Attempt.http_status, Attempt.outcome, func.count(),
                   func.coalesce(func.sum(Attempt.cost_usd), 0.0))
            .group_by(Attempt.operation, Attempt.endpoint, Attempt.http_status, Attempt.outcome)
        ):
            calls.add_metric([operation, endpoint, str(status) if status is not None else "none", outcome], count)
            spent[operation] = spent.get(operation, 0.0) + float(usd)
        for operation, usd in session.execute(  # attempts `hookline prune` removed: a counter never goes down
                select(CostDay.operation, func.sum(CostDay.usd)).group_by(CostDay.operation)):
            spent[operation] = spent.get(operation, 0.0) + float(usd or 0)
        for operation, usd in sorted(spent.items()):
            cost.add_metric([operation], usd)
        yield calls
        yield cost
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        today = GaugeMetricFamily("hookline_spend_today_usd", "Spend since 00:00 UTC by API key ('' for none).",
                                  labels=["api_key"])
        for key_id, usd in session.execute(
            select(Attempt.api_key_id, func.sum(Attempt.cost_usd)).where(Attempt.started_at >= midnight)
            .group_by(Attempt.api_key_id)
        ):
            today.add_metric([key_id or ""], float(usd or 0))
        yield today
        if self.settings.budget_usd_per_day:
            yield GaugeMetricFamily("hookline_budget_usd_per_day", "The global daily budget.",
                                    value=self.settings.budget_usd_per_day)

    def _latencies(self, session: Session, dialect: str) -> Iterator[Metric]:
        finished = _once(select(Job.status, seconds_between(dialect, Job.created_at, Job.finished_at).label("s"))
                         .where(Job.finished_at.is_not(None)), "durations", dialect)
        yield _histogram(session, "hookline_job_duration_seconds", "Job created to terminal, by final status.",
                         finished.c.s, finished, JOB_BUCKETS, label=finished.c.status, label_name="status")
        # Pipeline hand-off: a step's job submitted upstream, after the latest earlier job of its pipeline finished
        # (the callback that let it start).
        previous = aliased(Job)
        handoff_rows = (
            select(seconds_between(dialect, func.max(previous.finished_at), Job.submitted_at).label("s"))
            .join(previous, (previous.pipeline_id == Job.pipeline_id) & (previous.id != Job.id)
                  & (previous.finished_at <= Job.created_at))
            .where(Job.pipeline_id.is_not(None), Job.submitted_at.is_not(None))
            .group_by(Job.id, Job.submitted_at)
        )
        waited = _once(select(Job.priority, seconds_between(dialect, Job.created_at, Job.admitted_at).label("s"))
                       .where(Job.admitted_at.is_not(None)), "admission_waits", dialect)
        yield _histogram(session, "hookline_admission_wait_seconds", "Admission latency: job created to admitted "
                         "(its submit published), by priority.", waited.c.s, waited, WAIT_BUCKETS,
                         label=waited.c.priority, label_name="priority")
        handoff = _once(handoff_rows, "handoffs", dialect)
        yield _histogram(session, "hookline_callback_to_submit_seconds",
                         "Pipeline hand-off: previous step's callback to the next step's upstream submit.",
                         handoff.c.s, handoff, HANDOFF_BUCKETS)

    def _liveness(self, session: Session, now: datetime) -> Iterator[Metric]:
        yield GaugeMetricFamily("hookline_overdue_jobs", "In-flight jobs whose callback is overdue.",
                                value=overdue_count(session, now))
        unsent = session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None)))
        yield GaugeMetricFamily("hookline_outbox_unsent", "Outbox messages the broker has not taken yet (a broker "
                                "outage leaves them here; the reconciler republishes them).", value=unsent or 0)
        workers = workers_seen(session, now)
        yield GaugeMetricFamily("hookline_workers_alive", "Workers with a heartbeat in the last 35 s.",
                                value=sum(w.alive for w in workers))
        seen = GaugeMetricFamily("hookline_worker_last_seen_timestamp_seconds", "Each worker's last heartbeat.",
                                 labels=["worker"])
        for worker in workers:
            seen.add_metric([worker.hostname], worker.seen_at.timestamp())
        yield seen
        sweep = last_sweep(session)
        if sweep is not None:
            yield GaugeMetricFamily("hookline_last_reconcile_timestamp_seconds", "End of the last reconcile sweep.",
                                    value=sweep.seen_at.timestamp())

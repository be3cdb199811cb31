"""/v1/bulk (a JSONL or CSV body, one job or pipeline per line; progress by id) and /v1/costs (money per day).

POST /v1/bulk validates every line first: with any bad line nothing is accepted (400 ``invalid_lines``, every
line listed) unless ``skip_invalid=true``. Line keys are scoped to the caller, so posting the same body again
accepts only lines not accepted yet. Options are query parameters: ``skip_invalid``, ``rate`` (submits/s cap for
the batch), ``name``, ``callback_url`` (gets ``bulk.finished``), ``format`` (jsonl | csv, default from the body).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from shared.admission import parse_priority
from shared.bulk.accept import accept_bulk
from shared.bulk.progress import bulk_progress, list_batches
from shared.bulk.source import BulkSource
from shared.errors import ValidationError
from shared.jobs.ledger import OverBudget
from shared.models import Attempt, BulkBatch, CostDay, Job
from webhook.api.auth import ApiError, principal
from webhook.api.idempotency import KeepAlive, Reply, run_claimed
from webhook.api.listing import check_query, query_limit
from webhook.api.pipelines import over_budget_error
from webhook.context import db_session, settings

bulk = Blueprint("bulk", __name__, url_prefix="/bulk")
costs = Blueprint("costs", __name__, url_prefix="/costs")
MAX_BULK_BYTES = 32 * 1024 * 1024
BULK_OPTIONS = ("skip_invalid", "rate", "name", "callback_url", "format", "priority")
MAX_COST_DAYS = 366


def _flag(name: str) -> bool:
    raw = request.args.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise ApiError(400, "invalid", "must be true or false", name)
    return raw in ("true", "1")


def _rate() -> float | None:
    raw = request.args.get("rate")
    if raw is None:
        return None
    try:
        rate = float(raw)
    except ValueError:
        rate = -1.0
    if not 0 < rate < 1e6:
        raise ApiError(400, "invalid", "must be a positive number of submits per second", "rate")
    return rate


@bulk.post("")
def create_bulk() -> ResponseReturnValue:
    check_query(BULK_OPTIONS)
    request.max_content_length = MAX_BULK_BYTES  # a bulk body may be larger than a callback
    skip_invalid, rate, name = _flag("skip_invalid"), _rate(), request.args.get("name")
    raw_priority = request.args.get("priority")
    priority = None if raw_priority is None else parse_priority(raw_priority)
    fmt = request.args.get("format", "csv" if request.mimetype == "text/csv" else "auto")
    if fmt not in ("auto", "jsonl", "csv"):
        raise ApiError(400, "invalid", "must be jsonl or csv", "format")
    if name is not None and len(name) > 255:
        raise ApiError(400, "invalid", "must be at most 255 characters", "name")
    data, who, current = request.get_data(cache=True), principal(), settings()

    def produce(keep_alive: KeepAlive) -> Reply:
        """Accepts in chunks, each its own commit: the key is claimed first, so a duplicate gets 409 meanwhile."""
        try:
            report = accept_bulk(current, BulkSource.from_bytes(data, fmt, label=name or "api"), owner=who.owner,
                                 api_key_id=who.api_key_id, callback_url=request.args.get("callback_url"),
                                 rate=rate, name=name or "api", skip_invalid=skip_invalid,
                                 on_progress=lambda _report: keep_alive(), priority=priority)
        except OverBudget as exc:
            raise over_budget_error(exc) from None
        except ValidationError as exc:
            raise ApiError(400, "invalid", exc.message, exc.field) from None
        if report.invalid and not skip_invalid:
            raise ApiError(400, "invalid_lines", f"{report.invalid} invalid line(s); nothing was accepted "
                           "(fix them, or pass skip_invalid=true)", details=[e.as_json() for e in report.errors])
        if report.bulk_id is None:
            raise ApiError(400, "empty", "no valid line in the body", details=[e.as_json() for e in report.errors])
        return Reply(202, {"id": report.bulk_id, **report.as_json()})

    return run_claimed(produce)


@bulk.get("/<bulk_id>")
def read_bulk(bulk_id: str) -> ResponseReturnValue:
    check_query(())
    with db_session() as session:
        batch = session.get(BulkBatch, bulk_id)
        if batch is None or not principal().can_see(batch.api_key_id):
            raise ApiError(404, "not_found", f"no bulk batch {bulk_id!r}")
        return jsonify(bulk_progress(session, bulk_id))


@bulk.get("")
def list_bulk() -> ResponseReturnValue:
    check_query(("limit", "unfinished"))
    who, limit, unfinished = principal(), query_limit(), _flag("unfinished")
    with db_session() as session:
        data = list_batches(session, api_key_id=who.api_key_id, scoped=who.kind == "key",
                            unfinished_only=unfinished, limit=limit)
    return jsonify({"data": data})


def _day(name: str) -> date | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "invalid", "must be a date, YYYY-MM-DD", name) from None


@costs.get("")
def read_costs() -> ResponseReturnValue:
    """Sum of upstream_attempts.cost_usd per UTC day, from ``since`` to ``until`` (inclusive; default: 30 days)."""
    check_query(("since", "until"))
    until = _day("until") or datetime.now(UTC).date()
    if not date.min + timedelta(days=MAX_COST_DAYS) <= until < date.max:  # the window's arithmetic must not overflow
        raise ApiError(400, "invalid", f"must be a date from {date.min + timedelta(days=MAX_COST_DAYS)} to "
                       f"{date.max - timedelta(days=1)}", "until")
    since = _day("since") or until - timedelta(days=29)
    if since > until or (until - since).days >= MAX_COST_DAYS:
        raise ApiError(400, "invalid", f"must be on or before until, at most {MAX_COST_DAYS} days", "since")
    start = datetime.combine(since, time(), tzinfo=UTC)
    end = datetime.combine(until + timedelta(days=1), time(), tzinfo=UTC)
    day = func.date(Attempt.started_at)
    stmt = (select(day, func.coalesce(func.sum(Attempt.cost_usd), 0.0), func.count(Attempt.id))
            .where(Attempt.started_at >= start, Attempt.started_at < end, Attempt.cost_usd > 0)
            .group_by(day).order_by(day))
    who = principal()
    if who.kind == "key":
        stmt = stmt.join(Job, Job.id == Attempt.job_id).where(Job.api_key_id == who.api_key_id)
    pruned = (select(CostDay.day, func.sum(CostDay.usd), func.sum(CostDay.paid_calls))  # what `hookline prune` folded
              .where(CostDay.day >= since.isoformat(), CostDay.day <= until.isoformat()).group_by(CostDay.day))
    if who.kind == "key":
        pruned = pruned.where(CostDay.api_key_id == who.api_key_id)
    with db_session() as session:
        by_day: dict[str, tuple[float, int]] = {}
        for d, c, n in [*session.execute(stmt), *session.execute(pruned)]:
            cost, calls = by_day.get(str(d), (0.0, 0))
            by_day[str(d)] = (cost + float(c or 0), calls + int(n or 0))
        rows = [(d, round(c, 6), n) for d, (c, n) in sorted(by_day.items()) if n or c]
    return jsonify({"currency": "USD", "since": since.isoformat(), "until": until.isoformat(),
                    "total_usd": round(sum(cost for _, cost, _ in rows), 6),
                    "days": [{"day": d, "cost_usd": c, "paid_calls": n} for d, c, n in rows]})

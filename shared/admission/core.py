"""The admission step: waiting costs a row, not a message.

A new job is a ``queued`` row with no ``admitted_at``: no Celery message, no worker. ``admit`` picks the next
jobs and marks them admitted, one compare-and-set UPDATE, and writes one ``hookline.submit_job`` outbox row per
job in the same transaction (``shared.outbox``: a crash between the commit and the publish is covered by the
sweep's republish). It admits exactly as many as there are free slots:

- the in-flight cap (HOOKLINE_MAX_IN_FLIGHT): jobs admitted and not terminal. Counted from the rows, so a worker
  killed anywhere cannot leak a slot: its job either finishes (the slot frees) or the reconciler moves it on;
- the window (HOOKLINE_ADMISSION_WINDOW): jobs admitted but not yet sent upstream, so even with no cap the
  broker queue holds a few batches, never a whole bulk file, and an interactive job never waits behind one;
- the global token bucket (``shared.limits``), one token per admitted job (the submit takes none again);
- per owner (an API key's ``max_in_flight`` and ``rate``) and per bulk batch (``hookline bulk --rate``);
- the daily budgets (``shared.admission.budgets``): a job its budget cannot pay for waits, holding no slot.

A waiting job's reason is its own lasting hold (its owner's ``max_in_flight``, a budget) when it has one, even
when the cap or the window is full too (``_own_holds``): that is what keeps it waiting after a slot frees.

Order (``shared.admission.planning``): the highest effective priority first (``shared.admission.priority``:
ageing); within it, round-robin across owners (the one with the fewest jobs in flight next), within an owner
across its batches and pipelines, then FIFO.

It runs after a job is accepted (in the producer), when a slot or a window place frees (the submit and
follow-up tasks, when that can admit anything: ``shared.admission.triggers``), from the beat sweep
(level-triggered truth), and once when a rate limit ends (one ``hookline.admit`` message, scheduled at most
once per wait). Admitters are serialised by one lock row (``rate_buckets`` name ``admission``): its UPDATE is
the transaction's first statement, which takes the write lock on SQLite and the row lock on PostgreSQL before
anything is counted.
"""

from __future__ import annotations

import copy
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shared.admission.budgets import affordable, budget_gates, low_budget_owners
from shared.admission.planning import Gates, Group, plan
from shared.admission.rate_state import prune_rate_state
from shared.config import Settings
from shared.db import open_session
from shared.limits import limiter_for
from shared.limits.sql import insert_if_missing
from shared.models import ApiKey, Heartbeat, Job, RateBucket, utcnow
from shared.outbox import add_follow_up, relay
from shared.states import JobStatus
from shared.tasks import ADMIT, SUBMIT_JOB, send

log = logging.getLogger("hookline.admission")

LOCK = "admission"  # the rate_buckets row admitters serialise on; penalty_until: when a wake-up is scheduled
STATE = "admission"  # the heartbeats row with the last run's figures and reasons (for watch, the API, metrics)
ACTIVE = [s.value for s in JobStatus if not s.terminal]
NOT_SENT = [JobStatus.QUEUED.value, JobStatus.SUBMITTING.value]
NO_LIMIT = 10**9


@dataclass
class AdmissionReport:
    admitted: list[str] = field(default_factory=list)
    in_flight: int = 0
    waiting: int = 0
    blocked: str | None = None  # why the step stopped with work waiting (None: nothing waits, or all went)
    wake_in: float | None = None  # a rate limit ends in this many seconds (a hookline.admit is scheduled)
    seconds: float = 0.0


def _lock(session: Session, now: float) -> float:
    """Take the admission lock (first statement of the transaction); returns when a wake-up is scheduled."""
    stmt = update(RateBucket).where(RateBucket.name == LOCK).values(tokens=RateBucket.tokens + 1, updated_at=now)
    if not session.execute(stmt).rowcount:  # type: ignore[attr-defined]
        insert_if_missing(session.connection(), {"name": LOCK, "tokens": 0.0, "rate": 0.0, "updated_at": now,
                                                 "penalty_until": 0.0})
        session.execute(stmt)
    return float(session.scalar(select(RateBucket.penalty_until).where(RateBucket.name == LOCK)) or 0.0)


def _count(session: Session, statuses: list[str]) -> int:
    return int(session.scalar(select(func.count()).select_from(Job).where(
        Job.status.in_(statuses), Job.admitted_at.is_not(None))) or 0)


def waiting_groups(session: Session, owners: set[str] | None = None) -> list[tuple[str, str, int, Any, int]]:
    """(owner, queue group, priority, oldest created_at, count) of the jobs waiting for admission (of ``owners``
    only, when given): one grouped scan of the admission index, so memory grows with the number of groups, never
    with the backlog."""
    stmt = (select(Job.owner, Job.queue_group, Job.priority, func.min(Job.created_at), func.count())
            .where(Job.status == JobStatus.QUEUED.value, Job.admitted_at.is_(None))
            .group_by(Job.owner, Job.queue_group, Job.priority))
    rows = session.execute(stmt.where(Job.owner.in_(sorted(owners))) if owners is not None else stmt)
    return [(o, g, int(p), head, int(n)) for o, g, p, head, n in rows]


def _loads(session: Session) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(Job.owner, Job.queue_group, func.count())
        .where(Job.status.in_(ACTIVE), Job.admitted_at.is_not(None)).group_by(Job.owner, Job.queue_group))
    return {(o, g): int(n) for o, g, n in rows}


def _gates(session: Session, settings: Settings, groups: list[Group], now: float) -> Gates:
    owners = sorted({g.owner for g in groups})
    keys = {k.id: k for k in session.scalars(select(ApiKey).where(ApiKey.id.in_(owners)))} if owners else {}
    names = [f"bulk:{g.group}" for g in groups if g.group] + [f"tat:owner:{o}" for o in owners] + [
        f"tat:bulk:{g.group}" for g in groups if g.group]
    rows = {r.name: r for r in session.scalars(select(RateBucket).where(RateBucket.name.in_(names)))} if names else {}
    batch_rates = {g.group: rows[f"bulk:{g.group}"].rate for g in groups
                   if f"bulk:{g.group}" in rows and rows[f"bulk:{g.group}"].rate > 0}
    tats = {name[4:]: row.updated_at for name, row in rows.items() if name.startswith("tat:")}
    return Gates(
        now=now,
        owner_cap={o: k.max_in_flight for o, k in keys.items() if k.max_in_flight},
        owner_rate={o: k.rate for o, k in keys.items() if k.rate},
        batch_rate=batch_rates, tats=tats,
    )


def _own_holds(session: Session, settings: Settings, now_unix: float, now: Any) -> dict[str, str]:
    """With no free slot the step plans nothing and skips the grouped scan of the backlog; yet an owner at its own
    ``max_in_flight``, or whose daily budget cannot pay its next job, waits for that, not for the cap or window:
    a slot freeing does not admit it. So the owners that may be held so (at their own cap, or with a budget left
    below the dearest job) are scanned, and only they: the plan, run with no slot, gives their reasons."""
    loads = _loads(session)
    owner_load: Counter[str] = Counter()
    for (owner, _group), n in loads.items():
        owner_load[owner] += n
    caps = list(session.execute(select(ApiKey.id, ApiKey.max_in_flight).where(
        ApiKey.id.in_(sorted(owner_load)), ApiKey.max_in_flight.is_not(None)))) if owner_load else []
    at_cap = {str(key_id) for key_id, cap in caps if cap is not None and owner_load[key_id] >= cap}
    low = low_budget_owners(session, settings)
    scope = None if low is None else low | at_cap
    groups = [Group(o, g, p, head, n) for o, g, p, head, n in waiting_groups(session, scope)] if scope != set() else []
    if not groups:
        return {}
    gates = _gates(session, settings, groups, now_unix)
    gates.budgets, gates.prices = budget_gates(session, settings, groups)
    return plan(groups, loads, 0, gates, settings.priority_ageing, now, take_token=lambda: 0.0).owner_reasons


def _store_tats(session: Session, tats: dict[str, float], now: float) -> None:
    for scope, tat in tats.items():
        name = "tat:" + scope
        values = {"name": name, "tokens": 0.0, "rate": 0.0, "updated_at": tat, "penalty_until": 0.0}
        if not insert_if_missing(session.connection(), values):
            session.execute(update(RateBucket).where(RateBucket.name == name).values(updated_at=tat))


def _take_ids(session: Session, group: Group, n: int) -> list[str]:
    return list(session.scalars(
        select(Job.id).where(Job.status == JobStatus.QUEUED.value, Job.admitted_at.is_(None), Job.owner == group.owner,
                             Job.queue_group == group.group, Job.priority == group.priority)
        .order_by(Job.created_at).limit(n)))  # the admission index's order: no sort of the group


def admit(settings: Settings, *, prune: bool = False) -> AdmissionReport:
    """One admission step (see the module docstring); commits, then publishes the admitted jobs' submits.
    ``prune`` (the reconciler's sweep): also drop the spent rate rows and those of finished batches
    (``shared.admission.rate_state``)."""
    started = time.monotonic()
    report, wake = AdmissionReport(), None
    follow_ups: list[str] = []
    with open_session(settings) as session:
        wake_at = _lock(session, time.time())
        now_unix, now = time.time(), utcnow()  # after the lock: admitted_at never predates the slot's freeing
        if prune:
            prune_rate_state(session, now_unix)
        cap = settings.max_in_flight or None
        report.in_flight = _count(session, ACTIVE)
        not_sent = _count(session, NOT_SENT)
        free_cap = cap - report.in_flight if cap else NO_LIMIT
        free = min(free_cap, settings.admission_window - not_sent)
        detail: dict[str, Any] = {"owners": {}, "groups": {}}
        if free <= 0:  # no grouped scan of the backlog: is anything waiting at all?
            groups = []
            report.waiting = int(session.scalar(select(func.count()).select_from(
                select(Job.id).where(Job.status == JobStatus.QUEUED.value, Job.admitted_at.is_(None)).limit(1)
                .subquery())) or 0)
            if report.waiting:
                report.blocked = (f"in-flight cap reached ({report.in_flight} of {cap})" if free_cap <= 0 else
                                  f"admission window full ({not_sent} sent to the workers, not yet submitted)")
                detail["owners"] = _own_holds(session, settings, now_unix, now)
        else:
            groups = [Group(o, g, p, head, n) for o, g, p, head, n in waiting_groups(session)]
            report.waiting = sum(g.waiting for g in groups)
        if groups:
            gates = _gates(session, settings, groups, now_unix)
            gates.budgets, gates.prices = budget_gates(session, settings, groups)
            exact = copy.deepcopy(gates.budgets)  # before the plan spends them at estimated prices
            outcome = plan(groups, _loads(session), free, gates, settings.priority_ageing, now,
                           take_token=lambda: limiter_for(settings).try_acquire_in(session.connection()))
            report.blocked, report.wake_in = outcome.blocked, outcome.wake_in
            detail = {"owners": outcome.owner_reasons, "groups": outcome.group_reasons}
            _store_tats(session, outcome.tats, now_unix)
            grace = timedelta(seconds=settings.queued_grace)
            for group, n in outcome.picks:
                ids, held = affordable(session, _take_ids(session, group, n), exact.get(group.owner, []))
                if held:
                    outcome.owner_reasons[group.owner] = held
                    report.blocked = report.blocked or "per-owner or per-batch limits or daily budgets"
                taken = list(session.scalars(
                    update(Job).where(Job.id.in_(ids), Job.status == JobStatus.QUEUED.value, Job.admitted_at.is_(None))
                    .values(admitted_at=now, next_check_at=now + grace).returning(Job.id)
                    .execution_options(synchronize_session=False))) if ids else []
                report.admitted.extend(taken)
                follow_ups.extend(add_follow_up(session, SUBMIT_JOB, job_id) for job_id in taken)
        if report.wake_in is not None and not now_unix < wake_at <= now_unix + report.wake_in + 0.05:
            wake = report.wake_in
            session.execute(update(RateBucket).where(RateBucket.name == LOCK)
                            .values(penalty_until=now_unix + report.wake_in))
        report.seconds = time.monotonic() - started
        _record(session, settings, report, detail, cap, not_sent + len(report.admitted))
        session.commit()
    relay(settings, follow_ups)
    if wake is not None:
        try:
            send(settings, ADMIT, countdown=max(0.05, wake))
        except Exception:  # noqa: BLE001 - the beat sweep admits too
            log.warning("could not schedule the next admission; the sweep will run it", exc_info=True)
    return report


def _record(session: Session, settings: Settings, report: AdmissionReport, detail: dict[str, Any], cap: int | None,
            not_sent: int) -> None:
    state = {"in_flight": report.in_flight + len(report.admitted), "cap": cap,
             "window": settings.admission_window, "not_sent": not_sent, "admitted": len(report.admitted),
             "blocked": report.blocked, "wake_in": report.wake_in, "step_seconds": round(report.seconds, 6),
             **detail}
    row = session.get(Heartbeat, STATE)
    if row is None:
        session.add(Heartbeat(name=STATE, seen_at=utcnow(), detail=state))
    else:
        row.seen_at, row.detail = utcnow(), state


def admit_quietly(settings: Settings, *, prune: bool = False) -> AdmissionReport | None:
    """``admit`` for callers whose own work is already safe (a committed job, a finished task): a failure is
    logged, and the beat sweep admits instead."""
    try:
        return admit(settings, prune=prune)
    except Exception:  # noqa: BLE001
        log.warning("admission step failed; the next one (at the latest the sweep's) admits instead", exc_info=True)
        return None

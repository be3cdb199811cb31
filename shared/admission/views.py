"""Where a queued job stands and why it waits: for ``hookline watch``, ``GET /v1/jobs/<id>``, the dashboard and
``/metrics``. Every figure is a bounded query (grouped by owner or priority), never the backlog in memory."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.admission.core import STATE, waiting_groups
from shared.admission.priority import priority_name
from shared.models import Heartbeat, Job
from shared.states import JobStatus


def admission_state(session: Session) -> dict[str, Any]:
    """The last admission step's figures and reasons (empty before the first step)."""
    row = session.get(Heartbeat, STATE)
    return dict(row.detail or {}) if row is not None else {}


def _waiting(session: Session) -> Any:
    return select(func.count()).select_from(Job).where(Job.status == JobStatus.QUEUED.value,
                                                       Job.admitted_at.is_(None))


def queue_position(session: Session, job: Job) -> dict[str, Any] | None:
    """For a queued job: its priority, owner, estimated position (1 = next) and why it waits; None otherwise.

    The position counts the waiting jobs of higher priority, the owner's own earlier jobs of its priority, and,
    because slots go round-robin across owners, up to as many jobs of each other owner at that priority."""
    if job.status != JobStatus.QUEUED.value:
        return None
    base = {"priority": job.priority, "priority_name": priority_name(job.priority), "owner": job.owner}
    if job.admitted_at is not None:
        return {**base, "position": 0, "admitted": True,
                "reason": "admitted: its submit is queued for a worker" if not job.attempts else
                          f"admitted, retrying: {job.error or 'waiting for its next attempt'}"}
    higher = int(session.scalar(_waiting(session).where(Job.priority > job.priority)) or 0)
    own = int(session.scalar(_waiting(session).where(
        Job.priority == job.priority, Job.owner == job.owner, Job.created_at < job.created_at)) or 0)
    others = session.execute(
        select(Job.owner, func.count()).where(Job.status == JobStatus.QUEUED.value, Job.admitted_at.is_(None),
                                              Job.priority == job.priority, Job.owner != job.owner)
        .group_by(Job.owner))
    shared = sum(min(int(n), own) for _, n in others)
    state = admission_state(session)
    reason = ((state.get("owners") or {}).get(job.owner) or (state.get("groups") or {}).get(job.queue_group)
              or state.get("blocked"))
    if higher:
        reason = f"{higher} job(s) of higher priority wait first" + (f"; {reason}" if reason else "")
    return {**base, "position": higher + own + shared + 1, "admitted": False,
            "reason": reason or "waiting for the next admission step"}


def queue_depths(session: Session) -> list[tuple[str, str, int]]:
    """(priority name, owner, jobs waiting for admission), for /metrics."""
    depths: dict[tuple[str, str], int] = {}
    for owner, _group, priority, _head, n in waiting_groups(session):
        key = (priority_name(priority), owner)
        depths[key] = depths.get(key, 0) + n
    return [(p, o, n) for (p, o), n in sorted(depths.items())]


def admission_summary(session: Session) -> dict[str, Any]:
    """The admission step's last figures and the queue depths, for ``hookline watch`` and the dashboard."""
    state = admission_state(session)
    return {"in_flight": state.get("in_flight"), "cap": state.get("cap"), "window": state.get("window"),
            "blocked": state.get("blocked"), "owners": state.get("owners") or {}, "groups": state.get("groups") or {},
            "waiting": [{"priority": p, "owner": o, "jobs": n} for p, o, n in queue_depths(session)]}

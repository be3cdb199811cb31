"""The sweep's bulk claim of overdue in-flight jobs: one UPDATE … RETURNING moves their ``next_check_at`` out by a
lease and returns (id, operation, upstream task id), so the sweep never loads a job and two sweeps never take the
same one. On PostgreSQL the ids are picked ``FOR UPDATE SKIP LOCKED`` (a concurrent sweep skips rows another
claims); SQLite has one writer, and the clause is left out.

Whoever fetches a claimed job (a ``hookline.fetch_batch`` task, or the sweep itself) sets its next check; if that
never happens (a lost message, a killed worker), the lease runs out and the next sweep claims it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.models import Job
from shared.states import IN_FLIGHT


@dataclass(frozen=True)
class Claimed:
    id: str
    operation: str
    upstream_task_id: str | None


def claim_lease(settings: Settings) -> timedelta:
    """How long a claimed job is left to its fetch before a sweep looks at it again: the grace a queued message
    gets (HOOKLINE_QUEUED_GRACE)."""
    return timedelta(seconds=settings.queued_grace)


def claim_overdue_in_flight(session: Session, settings: Settings, now: datetime, limit: int) -> list[Claimed]:
    """Claim up to ``limit`` in-flight jobs whose check is due, oldest first, in one statement. The caller commits."""
    due = (select(Job.id).where(Job.status.in_([s.value for s in IN_FLIGHT]), Job.next_check_at <= now)
           .order_by(Job.next_check_at).limit(limit).with_for_update(skip_locked=True))
    claim = (update(Job).where(Job.id.in_(due.scalar_subquery()), Job.next_check_at <= now)
             .values(next_check_at=now + claim_lease(settings))
             .returning(Job.id, Job.operation, Job.upstream_task_id)
             .execution_options(synchronize_session=False))
    return [Claimed(*row) for row in session.execute(claim).all()]

"""Every status word, once: jobs (with the ONE transition table, the ONE upstream-status map and the
compare-and-set update), pipelines, pipeline steps, outgoing webhook deliveries, the outcome of each upstream call
(``upstream_attempts.outcome``) and the verdict on each inbound callback (``callbacks.verdict``).

Every job status change goes through ``transition()``: an ``UPDATE … WHERE id=? AND status IN (allowed)``,
so two workers or two receivers can race safely on SQLite and Postgres alike.

The enums are ``str`` enums: a member equals its word, and the database keeps the word. Write ``.value`` where
a word leaves Python (a column, an f-string): in Python 3.11 ``f"{PipelineStatus.RUNNING}"`` is the member's name.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from shared.models import Job, utcnow


class JobStatus(str, Enum):
    QUEUED = "queued"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    RUNNING = "running"
    STREAMING = "streaming"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


S = JobStatus
TERMINAL = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELED})
IN_FLIGHT = frozenset({S.SUBMITTED, S.RUNNING, S.STREAMING})

# target -> the states it may be entered from. Forward only; terminals are final, with one narrow exception.
# Backward edges, both about work the upstream never accepted:
# - submitting -> queued: our submit was refused before the upstream accepted anything (429/5xx/connection
#   refused), or an ambiguous submit's grace ran out: the job waits in the queue for its next attempt.
# - failed -> queued: an operator requeues a job that failed before anything was sent (budget exceeded, upstream
#   unavailable); ``requeue_unsent`` checks the ledger first. It never follows an upstream report.
# queued is a source of the upstream-driven states because an orphan callback (from an ambiguous attempt) may
# arrive while the job waits for its resubmit: the task it reports is attached instead of paying again.
_ACTIVE = frozenset({S.QUEUED, S.SUBMITTING, S.SUBMITTED, S.RUNNING, S.STREAMING})
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    S.QUEUED: frozenset({S.SUBMITTING, S.FAILED}),
    S.SUBMITTING: frozenset({S.QUEUED}),
    S.SUBMITTED: frozenset({S.QUEUED, S.SUBMITTING}),
    S.RUNNING: frozenset({S.QUEUED, S.SUBMITTING, S.SUBMITTED}),
    S.STREAMING: frozenset({S.QUEUED, S.SUBMITTING, S.SUBMITTED, S.RUNNING}),
    S.SUCCEEDED: _ACTIVE,
    S.FAILED: _ACTIVE,
    S.CANCELED: _ACTIVE,
}

# The upstream's task statuses, mapped onto ours in this one place.
UPSTREAM_STATUS: dict[str, JobStatus] = {
    "NOT_START": S.SUBMITTED,
    "SUBMITTED": S.SUBMITTED,
    "QUEUED": S.SUBMITTED,
    "IN_PROGRESS": S.RUNNING,
    "STREAMING": S.STREAMING,
    "COMPLETE": S.SUCCEEDED,
    "SUCCESS": S.SUCCEEDED,
    "FAILED": S.FAILED,
    "FAILURE": S.FAILED,
}

# Order used to call an upstream report a regression (a late IN_PROGRESS after STREAMING, say).
RANK: dict[JobStatus, int] = {
    S.QUEUED: 0, S.SUBMITTING: 1, S.SUBMITTED: 2, S.RUNNING: 3, S.STREAMING: 4,
    S.SUCCEEDED: 5, S.FAILED: 5, S.CANCELED: 5,
}


def from_upstream(status: str | None) -> JobStatus | None:
    """Our status for an upstream task status, or None when the upstream said something we do not know."""
    return UPSTREAM_STATUS.get((status or "").strip().upper())


def can_transition(current: JobStatus | str, target: JobStatus | str) -> bool:
    return JobStatus(current) in TRANSITIONS[JobStatus(target)]


def transition(
    session: Session,
    job_id: str,
    target: JobStatus,
    *,
    only_from: frozenset[JobStatus] | None = None,
    now: datetime | None = None,
    **fields: Any,
) -> bool:
    """Compare-and-set: move the job to ``target`` if its current status allows it. True when this call moved it.

    ``only_from`` narrows the allowed sources further (e.g. claim only from queued). ``fields`` are written in the
    same UPDATE. The caller commits.
    """
    allowed = TRANSITIONS[target] if only_from is None else TRANSITIONS[target] & only_from
    now = now or utcnow()
    values: dict[str, Any] = {"status": target.value, "updated_at": now, **fields}
    if target.terminal:
        values.setdefault("finished_at", now)
        values.setdefault("next_check_at", None)
    stmt = (
        update(Job)
        .where(Job.id == job_id, Job.status.in_([s.value for s in allowed]))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return cast("CursorResult[Any]", session.execute(stmt)).rowcount == 1


class PipelineStatus(str, Enum):
    """A pipeline's status: running until no step can move any more (``shared.pipelines.dag``)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self is not PipelineStatus.RUNNING


class StepStatus(str, Enum):
    """A pipeline step's status. Steps only go forward; a retry sends a broken one back to pending."""

    PENDING = "pending"  # waiting for the steps it depends on
    DISPATCHED = "dispatched"  # its jobs exist; it finishes when they all have
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # a step it depends on failed, was skipped or was canceled
    CANCELED = "canceled"

    @property
    def broken(self) -> bool:
        """Failed, skipped or canceled: its dependents are skipped, and a retry runs it again."""
        return self in STEP_BROKEN


STEP_BROKEN = frozenset({StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELED})


class DeliveryStatus(str, Enum):
    """An outgoing webhook delivery's status (``deliveries.status``)."""

    PENDING = "pending"  # an attempt is due (or under way)
    DELIVERED = "delivered"
    FAILED = "failed"  # the retry schedule is used up
    DISABLED = "disabled"  # its endpoint answered 410: recorded, never sent


class AttemptOutcome(str, Enum):
    """How one upstream call ended (``upstream_attempts.outcome``): the ledger counts money and the receiver matches
    orphan callbacks by these words."""

    PENDING = "pending"  # written before the call leaves; its price counts as spent until the call ends
    ACCEPTED = "accepted"  # a submit the upstream accepted: charged
    OK = "ok"  # an unpaid call (a fetch or a poll), or a GET export's first poll, answered
    ERROR = "error"  # an unpaid call (a fetch or a poll) failed
    AMBIGUOUS = "ambiguous"  # sent, but the answer was lost (read timeout, worker died): maybe charged
    RECOVERED = "recovered"  # an ambiguous submit whose callback then named its task: it was accepted
    LATE_ORPHAN = "late_orphan"  # the same, but the callback came after the job was resubmitted
    REFUSED = "refused"  # refused before anything was accepted (429, 5xx, connection refused): retried
    REJECTED = "rejected"  # the upstream turned the request down (400/401/403/404/413): the job fails
    BUDGET_REFUSED = "budget_refused"  # never sent: it would have gone over a daily budget


class CallbackVerdict(str, Enum):
    """What became of one inbound callback, or of a fetched task snapshot (``callbacks.verdict``)."""

    APPLIED = "applied"  # it moved the job (or refreshed a streaming job with new clips or URLs)
    DUPLICATE = "duplicate"  # the job already said this (a replay), perhaps with less detail
    IGNORED = "ignored"  # a regression, news about a finished job, a race lost, or a late orphan recorded
    INVALID = "invalid"  # an upstream status we do not know: answered 400 and recorded as rejected
    REJECTED = "rejected"  # refused before it reached the job (bad token, unknown job, bad body, …)

"""Matching a callback's task to its job, including orphans of ambiguous attempts.

The URL names the job and the attempt, so a callback for an attempt whose submit looked failed (read timeout,
worker lost) still tells us which task that attempt created: we attach it instead of paying again. If the orphan
arrives after a resubmit, both tasks are in the ledger and the job keeps the better one (a finished one).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from shared.errors import CallbackRejected
from shared.jobs.clip_fields import TASK_ID_LENGTH, id_problem
from shared.models import Attempt, Job
from shared.states import AttemptOutcome, JobStatus, from_upstream

# The attempts whose request may have reached the upstream without our learning which task it created.
MAYBE_SENT = frozenset({AttemptOutcome.PENDING, AttemptOutcome.AMBIGUOUS, AttemptOutcome.RECOVERED,
                        AttemptOutcome.LATE_ORPHAN})


def _attempt_row(session: Session, job_id: str, attempt_no: int) -> Attempt | None:
    return session.scalars(
        select(Attempt)
        .where(Attempt.job_id == job_id, Attempt.attempt_no == attempt_no, Attempt.outcome != AttemptOutcome.OK.value)
        .order_by(Attempt.id).limit(1)
    ).first()


def match_task(session: Session, job: Job, attempt_no: int, task: dict[str, Any]) -> str | None:
    """Check (or attach) the task id. Returns a reason to ignore the callback, None to apply it, or raises."""
    task_id = task.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        raise CallbackRejected(400, "task has no task_id")
    if (problem := id_problem("task id", task_id, TASK_ID_LENGTH)) is not None:
        raise CallbackRejected(400, problem)  # it could not be stored, so it cannot be ours
    if attempt_no > job.attempts:
        raise CallbackRejected(400, f"attempt {attempt_no} was never made")
    if task_id == job.upstream_task_id:
        return None
    row = _attempt_row(session, job.id, attempt_no)
    if job.upstream_task_id is None:
        # The callback outran our record of the submit, or the submit looked failed: attach, don't pay again.
        attached = cast("CursorResult[Any]", session.execute(
            update(Job).where(Job.id == job.id, Job.upstream_task_id.is_(None)).values(upstream_task_id=task_id)
            .execution_options(synchronize_session=False)
        )).rowcount
        session.refresh(job)
        if not attached and job.upstream_task_id != task_id:
            raise CallbackRejected(400, "task id does not belong to this job")
        if row is not None and row.outcome in MAYBE_SENT:
            row.outcome, row.upstream_task_id = AttemptOutcome.RECOVERED.value, task_id
        return None
    if row is not None and row.outcome in MAYBE_SENT and row.upstream_task_id in (None, task_id):
        # A late orphan: the job was resubmitted meanwhile. Record what this attempt bought.
        row.outcome, row.upstream_task_id = AttemptOutcome.LATE_ORPHAN.value, task_id
        better = from_upstream(task.get("status")) is JobStatus.SUCCEEDED and not JobStatus(job.status).terminal
        if better:
            job.upstream_task_id = task_id
            return None
        return f"late orphan of attempt {attempt_no} (task {task_id}) recorded; job keeps {job.upstream_task_id}"
    raise CallbackRejected(400, "task id does not belong to this job")

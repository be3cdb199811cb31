"""Claim a job and make its one paid submit: attempt row first, then the call, then classify the outcome.

Outcomes:
- accepted: store the upstream task id (-> submitted) and let go; waiting costs a DB row, not a worker slot.
- refused before anything was accepted (connection refused, 429, 5xx): back to queued, retried with backoff.
- ambiguous (read timeout / reset after sending): never resubmitted automatically; the job fails with
  ``ambiguous submit`` and the attempt row keeps what we know.
- rejected (400/401/403/404/413, validation): the job fails with the upstream's message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from shared.cometapi import CometClient, endpoint_for, price_for, retry_delay
from shared.config import Settings
from shared.db import session_factory
from shared.errors import AmbiguousSubmit, UpstreamError
from shared.hook_tokens import notify_hook_url, redact_hook_url
from shared.models import Attempt, Job, utcnow
from shared.states import JobStatus, transition
from shared.task_updates import next_check_after_news

log = logging.getLogger("hookline.submit")


@dataclass(frozen=True)
class SubmitResult:
    outcome: str  # skipped | accepted | retry | failed
    retry_in: float | None = None
    detail: str = ""


def claim_job(session: Session, job_id: str) -> int | None:
    """Compare-and-set queued -> submitting; returns this claim's attempt number, or None if not ours."""
    claimed = transition(
        session, job_id, JobStatus.SUBMITTING, only_from=frozenset({JobStatus.QUEUED}), attempts=Job.attempts + 1
    )
    if not claimed:
        session.rollback()
        return None
    job = session.get(Job, job_id, populate_existing=True)
    assert job is not None
    return job.attempts


def _summary(payload: dict[str, Any], hook: str | None) -> dict[str, Any]:
    """What we sent, minus secrets and bulk: field names, mode markers and the redacted hook."""
    summary: dict[str, Any] = {k: v for k, v in payload.items() if k in ("mv", "task", "continue_at", "action")}
    summary["fields"] = sorted(payload)
    if hook:
        summary["notify_hook"] = redact_hook_url(hook)
    return summary


def submit_claimed(
    settings: Settings, job_id: str, *, retries_so_far: int = 0, client: CometClient | None = None
) -> SubmitResult:
    Session = session_factory(settings)
    with Session() as session:
        attempt_no = claim_job(session, job_id)
        if attempt_no is None:
            return SubmitResult("skipped", detail="job is not queued (already claimed, submitted or finished)")
        job = session.get(Job, job_id)
        assert job is not None
        hook = notify_hook_url(settings, job_id, attempt_no)
        payload = dict(job.params)
        endpoint = endpoint_for(job.operation, payload)
        if hook and endpoint.takes_notify_hook:
            payload["notify_hook"] = hook
        attempt = Attempt(
            job_id=job_id,
            attempt_no=attempt_no,
            operation=job.operation,
            endpoint=endpoint.name,
            request_summary=_summary(payload, hook),
            outcome="pending",
        )
        session.add(attempt)
        session.commit()  # the attempt row exists before a cent is spent

        client = client or CometClient.from_settings(settings)
        price = price_for(job.operation, payload)
        try:
            task_id = client.submit(job.operation, payload)
        except AmbiguousSubmit as exc:
            return _finish(session, job, attempt, "ambiguous", exc, cost=price, fail="ambiguous submit")
        except UpstreamError as exc:
            if exc.retryable and retries_so_far < settings.submit_max_retries:
                delay = retry_delay(retries_so_far, base=settings.retry_base, retry_after=exc.retry_after)
                return _finish(session, job, attempt, "refused", exc, requeue_in=delay)
            if exc.retryable:
                reason = f"upstream unavailable after {retries_so_far + 1} tries: {exc.message}"
                return _finish(session, job, attempt, "refused", exc, fail=reason)
            return _finish(session, job, attempt, "rejected", exc, fail=f"upstream rejected: {exc.message}")
        return _accept(session, settings, job, attempt, task_id, price)


def _accept(session: Session, settings: Settings, job: Job, attempt: Attempt, task_id: str, price: float) -> SubmitResult:
    now = utcnow()
    attempt.outcome, attempt.http_status, attempt.upstream_task_id = "accepted", 200, task_id
    attempt.cost_usd, attempt.finished_at = price, now
    # A callback may already have attached this task id and moved the job on: then only the attempt row changes.
    moved = transition(
        session, job.id, JobStatus.SUBMITTED, upstream_task_id=task_id, submitted_at=now,
        next_check_at=now + next_check_after_news(settings),
    )
    if not moved:
        session.refresh(job)
        if job.upstream_task_id is None:
            job.upstream_task_id = task_id
        job.submitted_at = job.submitted_at or now
    session.commit()
    log.info("submitted job %s as upstream task %s", job.id, task_id)
    return SubmitResult("accepted", detail=task_id)


def _finish(
    session: Session,
    job: Job,
    attempt: Attempt,
    outcome: str,
    exc: UpstreamError,
    *,
    cost: float = 0.0,
    fail: str | None = None,
    requeue_in: float | None = None,
) -> SubmitResult:
    now = utcnow()
    attempt.outcome, attempt.http_status, attempt.cost_usd = outcome, exc.status, cost
    attempt.error, attempt.finished_at = str(exc)[:2000], now
    if requeue_in is not None:
        transition(
            session, job.id, JobStatus.QUEUED, error=f"retrying: {exc.message}"[:2000],
            next_check_at=now + timedelta(seconds=requeue_in + 60),
        )
        session.commit()
        log.warning("job %s: upstream refused (%s); retry in %.1fs", job.id, exc.status, requeue_in)
        return SubmitResult("retry", retry_in=requeue_in, detail=str(exc))
    transition(session, job.id, JobStatus.FAILED, error=fail)
    session.commit()
    log.warning("job %s failed: %s", job.id, fail)
    return SubmitResult("failed", detail=fail or "")

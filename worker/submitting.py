"""Claim a job and make its one paid call: attempt row first, then the call, then classify the outcome.

Outcomes of the call:
- accepted: store what the upstream answered and let go; waiting costs a DB row, not a worker slot.
- refused before anything was accepted (connection refused, 429, 5xx): back to queued, retried with backoff.
- ambiguous (read timeout / reset after sending): the job waits ``HOOKLINE_AMBIGUOUS_GRACE`` for an orphan
  callback naming this attempt; only then does the reconciler requeue it, and the next attempt is marked
  ``possible_duplicate`` in the ledger.
- rejected (400/401/403/404/413): the job fails with the upstream's message.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from shared.cometapi import (
    CometClient,
    Finish,
    Operation,
    endpoint_for,
    operation_named,
    price_for,
    retry_delay,
)
from shared.cometapi.answers import DONE, FAILED
from shared.config import Settings
from shared.db import open_session
from shared.errors import AmbiguousSubmit, RateLimited, UpstreamError
from shared.jobs.clip_fields import TASK_ID_LENGTH, id_problem
from shared.jobs.finishing import finish_job
from shared.jobs.hook_urls import notify_hook_url, redact_hook_url
from shared.jobs.ledger import budget_refusal
from shared.jobs.updates import next_check_after_news
from shared.models import Attempt, Job, utcnow
from shared.states import AttemptOutcome, JobStatus, transition
from worker.results import SubmitOutcome, SubmitResult

log = logging.getLogger("hookline.submit")
NOT_QUEUED = "job is not queued (already claimed, submitted or finished)"
NOT_ADMITTED = "job is not admitted yet (it waits for the admission step)"

_clients = threading.local()


def upstream_client(settings: Settings) -> CometClient:
    """One client per worker thread, so its HTTP connections are reused (bench P2: a new TCP connection per
    submit was 15% of the worker's time)."""
    cached = getattr(_clients, "by_settings", None)
    if cached is None:
        cached = _clients.by_settings = {}
    if settings not in cached:
        cached[settings] = CometClient.from_settings(settings)
    return cached[settings]


def claim_job(session: Session, settings: Settings, job_id: str) -> int | None:
    """Compare-and-set an admitted queued job to submitting, one UPDATE; this claim's attempt number, or None
    (rolled back) if it is not ours to send. The caller commits."""
    # If this worker dies from here on, the reconciler looks at the job after this deadline.
    stuck_after = max(settings.queued_grace, settings.connect_timeout + settings.read_timeout + 30)
    now = utcnow()
    attempt = session.scalar(
        update(Job).where(Job.id == job_id, Job.status == JobStatus.QUEUED.value, Job.admitted_at.is_not(None))
        .values(status=JobStatus.SUBMITTING.value, updated_at=now, attempts=Job.attempts + 1,
                next_check_at=now + timedelta(seconds=stuck_after))
        .returning(Job.attempts).execution_options(synchronize_session=False))
    if attempt is None:
        session.rollback()
        return None
    return int(attempt)


def _not_claimed(session: Session, job_id: str) -> str:
    """Why a claim found nothing: the job is gone or past queued, or it still waits for admission."""
    queued = session.get(Job, job_id)
    if queued is not None and queued.status == JobStatus.QUEUED.value and queued.admitted_at is None:
        return NOT_ADMITTED
    return NOT_QUEUED


def _summary(payload: dict[str, Any], hook: str | None) -> dict[str, Any]:
    """What we sent, minus secrets and bulk: field names, mode markers and the redacted hook."""
    summary: dict[str, Any] = {k: v for k, v in payload.items() if k in ("mv", "task", "continue_at", "clip_id")}
    summary["fields"] = sorted(payload)
    if hook:
        summary["notify_hook"] = redact_hook_url(hook)
    return summary


def _refusals_in_a_row(session: Session, job_id: str) -> int:
    """Refused attempts since the last one that was not refused: the retry number for the backoff."""
    last_other = session.scalar(
        select(func.max(Attempt.attempt_no))
        .where(Attempt.job_id == job_id, Attempt.outcome != AttemptOutcome.REFUSED.value)
    ) or 0
    return int(session.scalar(
        select(func.count()).select_from(Attempt).where(
            Attempt.job_id == job_id, Attempt.outcome == AttemptOutcome.REFUSED.value, Attempt.attempt_no > last_other)
    ) or 0)


def _follows_ambiguous(session: Session, job_id: str) -> bool:
    return bool(session.scalar(
        select(func.count()).select_from(Attempt)
        .where(Attempt.job_id == job_id, Attempt.outcome == AttemptOutcome.AMBIGUOUS.value)
    ))


def submit_claimed(settings: Settings, job_id: str, *, client: CometClient | None = None) -> SubmitResult:
    with open_session(settings) as session:
        # The limits (cap, rates, priority, fair share) were applied when the job was admitted
        # (shared.admission), which published this message: a job not admitted is not ours to send.
        attempt_no = claim_job(session, settings, job_id)
        if attempt_no is None:  # not queued (claimed by another worker, sent, finished) or not admitted yet
            return SubmitResult(SubmitOutcome.SKIPPED, detail=_not_claimed(session, job_id))
        job = session.get(Job, job_id)
        assert job is not None
        payload = dict(job.params)
        endpoint = endpoint_for(job.operation, payload)
        hook = notify_hook_url(settings, job_id, attempt_no) if endpoint.takes_notify_hook else None
        if hook:
            payload["notify_hook"] = hook
        price = price_for(job.operation, payload)
        attempt = Attempt(
            job_id=job_id, attempt_no=attempt_no, operation=job.operation, endpoint=endpoint.name,
            request_summary=_summary(payload, hook), outcome=AttemptOutcome.PENDING.value, cost_usd=price,
            api_key_id=job.api_key_id,
            possible_duplicate=price > 0 and attempt_no > 1 and _follows_ambiguous(session, job_id),
        )
        refusal = budget_refusal(session, settings, job, price)
        if refusal:
            attempt.outcome, attempt.cost_usd, attempt.error = AttemptOutcome.BUDGET_REFUSED.value, 0.0, refusal
            session.add(attempt)
            follow_ups = finish_job(session, settings, job_id, JobStatus.FAILED, error=refusal)
            session.commit()
            log.warning("job %s refused before sending: %s", job_id, refusal)
            return SubmitResult(SubmitOutcome.FAILED, detail=refusal, follow_ups=follow_ups)
        session.add(attempt)
        session.commit()  # the attempt row, with its price, exists before a cent is spent

        client = client or upstream_client(settings)
        operation = operation_named(job.operation)
        try:
            if operation.submit_is_first_poll:
                answer = client.poll(operation, payload["clip_id"])
                return _first_poll_answered(session, settings, job, attempt, operation, answer)
            upstream_id = client.submit(job.operation, payload)
        except AmbiguousSubmit as exc:
            return _ambiguous(session, settings, job, attempt, exc)
        except UpstreamError as exc:
            return _refused_or_rejected(session, settings, job, attempt, exc)
        if operation.finish is Finish.SYNC and operation.created_id_key is not None:
            return _succeed_now(session, settings, job, attempt, upstream_id, {operation.created_id_key: upstream_id})
        if (problem := id_problem("upstream task id", upstream_id, TASK_ID_LENGTH)) is not None:
            return _paid_but_unstorable(session, settings, job, attempt, upstream_id, problem)
        return _accepted(session, settings, job, attempt, operation, upstream_id)


def _close(attempt: Attempt, outcome: AttemptOutcome, *, status: int | None = 200, task_id: str | None = None,
           cost: float | None = None, error: str | None = None) -> None:
    attempt.outcome, attempt.http_status, attempt.finished_at = outcome.value, status, utcnow()
    if task_id is not None:
        attempt.upstream_task_id = task_id
    if cost is not None:
        attempt.cost_usd = cost
    if error is not None:
        attempt.error = error[:2000]


def _accepted(session: Session, settings: Settings, job: Job, attempt: Attempt, operation: Operation,
              task_id: str) -> SubmitResult:
    now = utcnow()
    _close(attempt, AttemptOutcome.ACCEPTED, task_id=task_id)
    if operation.poll is not None:
        # The poll chain keeps next_check_at ahead of it; if the chain is lost, the reconciler starts it again.
        wait = timedelta(seconds=operation.poll.max_delay + settings.queued_grace)
    else:
        # No callback will come (polling mode, or an operation that takes no notify_hook): check at the next sweep.
        wait = next_check_after_news(settings, job.operation)
    moved = transition(session, job.id, JobStatus.SUBMITTED, upstream_task_id=task_id, submitted_at=now,
                       next_check_at=now + wait, error=None)
    if not moved:
        # A callback already attached this task and moved the job on: only the attempt row changes.
        session.refresh(job)
        if job.upstream_task_id is None:
            job.upstream_task_id = task_id
        job.submitted_at = job.submitted_at or now
    session.commit()
    log.info("submitted job %s (%s) as upstream task %s", job.id, job.operation, task_id)
    if operation.poll is not None:
        return SubmitResult(SubmitOutcome.POLL, retry_in=operation.poll.delay(0), detail=task_id)
    return SubmitResult(SubmitOutcome.ACCEPTED, detail=task_id)


def _paid_but_unstorable(session: Session, settings: Settings, job: Job, attempt: Attempt, upstream_id: str,
                         problem: str) -> SubmitResult:
    """Paid, but the task id does not fit its column: cut, it matches no callback; dropped, a requeue pays again. So
    the attempt stays ``accepted`` (its price counted) with the whole id in ``error``, and the job fails saying so."""
    _close(attempt, AttemptOutcome.ACCEPTED)
    attempt.error = f"accepted and charged, but the {problem}; the whole id: {upstream_id!r}"  # uncut, unlike _close
    reason = f"upstream accepted the submit (charged), but its {problem}; the whole id is in the attempt"
    follow_ups = finish_job(session, settings, job.id, JobStatus.FAILED, error=reason)
    session.commit()
    log.error("job %s: %s", job.id, reason)
    return SubmitResult(SubmitOutcome.FAILED, detail=reason, follow_ups=follow_ups)


def _succeed_now(session: Session, settings: Settings, job: Job, attempt: Attempt, upstream_id: str,
                 result: dict[str, Any]) -> SubmitResult:
    stored = None if (problem := id_problem("upstream id", upstream_id, TASK_ID_LENGTH)) else upstream_id
    _close(attempt, AttemptOutcome.ACCEPTED, task_id=stored, error=problem and f"{problem}; kept whole in the job")
    follow_ups = finish_job(session, settings, job.id, JobStatus.SUCCEEDED, upstream_task_id=stored,
                            submitted_at=utcnow(), result=result, error=None)
    session.commit()
    return SubmitResult(SubmitOutcome.SUCCEEDED, detail=upstream_id, follow_ups=follow_ups)


def _first_poll_answered(session: Session, settings: Settings, job: Job, attempt: Attempt, operation: Operation,
                         answer: dict[str, Any]) -> SubmitResult:
    """A GET export answered at once: it is done, failed, or to be polled again."""
    assert operation.poll is not None
    _close(attempt, AttemptOutcome.OK)
    clip_id = job.params.get("clip_id", "")
    read = operation.poll.read(answer, clip_id)
    if read.state == DONE:
        return _succeed_now(session, settings, job, attempt, clip_id, read.result)
    if read.state == FAILED:
        follow_ups = finish_job(session, settings, job.id, JobStatus.FAILED, error=read.detail)
        session.commit()
        return SubmitResult(SubmitOutcome.FAILED, detail=read.detail, follow_ups=follow_ups)
    # The poll chain keeps next_check_at ahead of it; if the chain is lost, the reconciler starts it again.
    transition(session, job.id, JobStatus.RUNNING, submitted_at=utcnow(), result=read.result,
               next_check_at=utcnow() + timedelta(seconds=operation.poll.max_delay + settings.queued_grace))
    session.commit()
    return SubmitResult(SubmitOutcome.POLL, retry_in=operation.poll.delay(0), detail=read.detail)


def _ambiguous(session: Session, settings: Settings, job: Job, attempt: Attempt, exc: UpstreamError) -> SubmitResult:
    # The orphan callback may already have arrived while we waited for the answer (the receiver then marked this
    # attempt "recovered" and moved the job on): both writes are conditional, so that news is never undone.
    now, grace = utcnow(), settings.ambiguous_grace
    session.expire_all()
    session.execute(
        update(Attempt).where(Attempt.id == attempt.id, Attempt.outcome == AttemptOutcome.PENDING.value)
        .values(outcome=AttemptOutcome.AMBIGUOUS.value, http_status=exc.status, error=str(exc)[:2000], finished_at=now)
    )
    waiting = cast("CursorResult[Any]", session.execute(
        update(Job).where(Job.id == job.id, Job.status == JobStatus.SUBMITTING.value, Job.upstream_task_id.is_(None))
        .values(error=f"ambiguous submit: waiting {grace:.0f}s for an orphan callback before resubmitting",
                next_check_at=now + timedelta(seconds=grace), updated_at=now)
    )).rowcount
    session.commit()
    if not waiting:
        log.info("job %s attempt %s: answer lost, but its callback already arrived", job.id, attempt.attempt_no)
        return SubmitResult(SubmitOutcome.ACCEPTED, detail="recovered by its callback")
    log.warning("job %s attempt %s ambiguous (%s); waiting %.0fs for an orphan callback", job.id,
                attempt.attempt_no, exc, grace)
    return SubmitResult(SubmitOutcome.AMBIGUOUS, detail=str(exc))


def _refused_or_rejected(session: Session, settings: Settings, job: Job, attempt: Attempt,
                         exc: UpstreamError) -> SubmitResult:
    if isinstance(exc, RateLimited):
        from worker.limits import penalize

        penalize(settings, exc.retry_after)
    if not exc.retryable:
        _close(attempt, AttemptOutcome.REJECTED, status=exc.status, cost=0.0, error=str(exc))
        reason = f"upstream rejected: {exc.message}"
        follow_ups = finish_job(session, settings, job.id, JobStatus.FAILED, error=reason)
        session.commit()
        log.warning("job %s failed: %s", job.id, reason)
        return SubmitResult(SubmitOutcome.FAILED, detail=reason, follow_ups=follow_ups)
    _close(attempt, AttemptOutcome.REFUSED, status=exc.status, cost=0.0, error=str(exc))
    session.flush()
    retries = _refusals_in_a_row(session, job.id) - 1
    if retries >= settings.submit_max_retries:
        reason = f"upstream unavailable after {retries + 1} tries: {exc.message}"
        follow_ups = finish_job(session, settings, job.id, JobStatus.FAILED, error=reason)
        session.commit()
        return SubmitResult(SubmitOutcome.FAILED, detail=reason, follow_ups=follow_ups)
    delay = retry_delay(retries, base=settings.retry_base, retry_after=exc.retry_after)
    transition(session, job.id, JobStatus.QUEUED, error=f"retrying in {delay:.1f}s: {exc.message}"[:2000],
               next_check_at=utcnow() + timedelta(seconds=delay + settings.queued_grace))
    session.commit()
    log.warning("job %s: upstream refused (%s); retry in %.1fs", job.id, exc.status, delay)
    return SubmitResult(SubmitOutcome.RETRY, retry_in=delay, detail=str(exc))

"""Polling the operations that never call back (GET exports, Udio): one short call per scheduled poll.

The task is rescheduled with the growing, capped countdown of the operation's poll record (``Poll.delay``);
it never sleeps. Every poll is an (unpaid) attempt row; the job fails with ``timed out after Ns`` past
HOOKLINE_EXPORT_DEADLINE.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm import Session

from shared.cometapi import CometClient, operation_named
from shared.cometapi.answers import DONE, FAILED
from shared.cometapi.export_paths import export_task_id
from shared.cometapi.operation_record import Poll
from shared.config import Settings
from shared.db import open_session
from shared.errors import UpstreamError
from shared.jobs.clip_fields import clip_id_problem
from shared.jobs.finishing import finish_job
from shared.jobs.updates import store_clips
from shared.models import Attempt, Job, utcnow
from shared.states import AttemptOutcome, JobStatus
from worker.results import PollOutcome, PollResult
from worker.submitting import upstream_client

log = logging.getLogger("hookline.poll")


def poll_job_once(settings: Settings, job_id: str, *, client: CometClient | None = None) -> PollResult:
    client = client or upstream_client(settings)
    with open_session(settings) as session:
        job = session.get(Job, job_id)
        if job is None or JobStatus(job.status).terminal:
            return PollResult(PollOutcome.STOPPED)
        operation = operation_named(job.operation)
        poll = operation.poll
        if poll is None:
            return PollResult(PollOutcome.STOPPED, detail=f"{job.operation} is not polled")
        # An export's GET names the clip; a query names the id the submit answered.
        ref = job.params["clip_id"] if poll.by_clip else job.upstream_task_id or ""
        # An export that answered a task id is followed through the task fetch (shared.cometapi.export_paths).
        follow = export_task_id((job.result or {}).get("export")) if poll.by_clip else None
        attempt = Attempt(job_id=job.id, attempt_no=job.attempts, operation=job.operation, endpoint=poll.endpoint.name,
                          request_summary={"poll": job.polls + 1}, outcome=AttemptOutcome.PENDING.value,
                          api_key_id=job.api_key_id)
        session.add(attempt)
        job.polls += 1
        session.commit()
        try:
            read = poll.read(client.poll(operation, ref, follow=follow), ref)
        except UpstreamError as exc:
            attempt.outcome, attempt.http_status, attempt.finished_at = AttemptOutcome.ERROR.value, exc.status, utcnow()
            attempt.error = str(exc)[:2000]
            if not exc.retryable:
                follow_ups = finish_job(session, settings, job.id, JobStatus.FAILED,
                                        error=f"upstream rejected: {exc.message}")
                session.commit()
                return PollResult(PollOutcome.FAILED, detail=exc.message, follow_ups=follow_ups)
            session.commit()
            return _again_or_time_out(session, settings, job, poll, f"poll failed: {exc.message}")
        attempt.outcome, attempt.http_status, attempt.finished_at = AttemptOutcome.OK.value, 200, utcnow()
        problem = clip_id_problem(read.clips) if read.state == DONE else None
        if problem is not None:  # never cut to fit (cut ids could merge two clips): this answer is refused
            attempt.outcome, attempt.error = AttemptOutcome.ERROR.value, f"snapshot refused: {problem}"
            session.commit()
            return _again_or_time_out(session, settings, job, poll, attempt.error)
        if read.state == DONE:
            follow_ups = finish_job(session, settings, job.id, JobStatus.SUCCEEDED, result=read.result,
                                    progress="100%", error=None)
            if follow_ups:
                session.refresh(job)
                store_clips(session, job, read.clips)
            session.commit()
            return PollResult(PollOutcome.DONE, detail=read.detail, follow_ups=follow_ups)
        if read.state == FAILED:
            follow_ups = finish_job(session, settings, job.id, JobStatus.FAILED, error=read.detail)
            session.commit()
            return PollResult(PollOutcome.FAILED, detail=read.detail, follow_ups=follow_ups)
        session.commit()
        return _again_or_time_out(session, settings, job, poll, read.detail)


def _again_or_time_out(session: Session, settings: Settings, job: Job, poll: Poll, detail: str) -> PollResult:
    waited = (utcnow() - (job.submitted_at or job.created_at)).total_seconds()
    if waited > settings.export_deadline:
        reason = f"timed out after {int(waited)}s"
        follow_ups = finish_job(session, settings, job.id, JobStatus.FAILED, error=reason)
        session.commit()
        return PollResult(PollOutcome.FAILED, detail=reason, follow_ups=follow_ups)
    delay = poll.delay(job.polls)
    job.next_check_at = utcnow() + timedelta(seconds=delay + poll.max_delay + settings.queued_grace)
    session.commit()
    return PollResult(PollOutcome.AGAIN, retry_in=delay, detail=detail)

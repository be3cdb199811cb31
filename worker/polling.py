"""Polling the operations that never call back (GET exports, Udio): one short call per scheduled poll.

The task is rescheduled with a growing, capped countdown (worker.operation_kinds.poll_delay); it never sleeps.
Every poll is an (unpaid) attempt row; the job fails with ``timed out after Ns`` past HOOKLINE_EXPORT_DEADLINE.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from shared.cometapi import CometClient
from shared.config import Settings
from shared.db import open_session
from shared.errors import UpstreamError
from shared.jobs.updates import store_clips
from shared.models import Attempt, Job, utcnow
from shared.states import JobStatus, transition
from worker.operation_kinds import POLL_CAP, export_state, kind_of, poll_delay, udio_state
from worker.submitting import upstream_client

log = logging.getLogger("hookline.poll")


@dataclass(frozen=True)
class PollResult:
    outcome: str  # done | again | failed | stopped
    retry_in: float | None = None
    detail: str = ""


def poll_job_once(settings: Settings, job_id: str, *, client: CometClient | None = None) -> PollResult:
    client = client or upstream_client(settings)
    with open_session(settings) as session:
        job = session.get(Job, job_id)
        if job is None or JobStatus(job.status).terminal:
            return PollResult("stopped")
        kind = kind_of(job.operation)
        endpoint = "udio_query" if kind == "udio" else job.operation
        attempt = Attempt(job_id=job.id, attempt_no=job.attempts, operation=job.operation, endpoint=endpoint,
                          request_summary={"poll": job.polls + 1}, outcome="pending", api_key_id=job.api_key_id)
        session.add(attempt)
        job.polls += 1
        session.commit()
        try:
            if kind == "udio":
                answer = client.udio_query([job.upstream_task_id or ""])
                state, clips = udio_state(answer, job.upstream_task_id or "")
                detail = f"{len(clips)} songs"
            else:
                answer = client.export(job.operation, job.params["clip_id"])
                state, detail = export_state(job.operation, answer)
                clips = []
        except UpstreamError as exc:
            attempt.outcome, attempt.http_status, attempt.error = "error", exc.status, str(exc)[:2000]
            attempt.finished_at = utcnow()
            if not exc.retryable:
                transition(session, job.id, JobStatus.FAILED, error=f"upstream rejected: {exc.message}")
                session.commit()
                return PollResult("failed", detail=exc.message)
            session.commit()
            return _again_or_time_out(session, settings, job, f"poll failed: {exc.message}")
        attempt.outcome, attempt.http_status, attempt.finished_at = "ok", 200, utcnow()
        if state == "done":
            result = {"songs": answer.get("songs")} if kind == "udio" else {"export": answer}
            if transition(session, job.id, JobStatus.SUCCEEDED, result=result, progress="100%", error=None):
                session.refresh(job)
                store_clips(session, job, clips)
            session.commit()
            return PollResult("done", detail=detail)
        if state == "failed":
            transition(session, job.id, JobStatus.FAILED, error=str(detail))
            session.commit()
            return PollResult("failed", detail=str(detail))
        session.commit()
        return _again_or_time_out(session, settings, job, str(detail))


def _again_or_time_out(session, settings: Settings, job: Job, detail: str) -> PollResult:  # type: ignore[no-untyped-def]
    waited = (utcnow() - (job.submitted_at or job.created_at)).total_seconds()
    if waited > settings.export_deadline:
        reason = f"timed out after {int(waited)}s"
        transition(session, job.id, JobStatus.FAILED, error=reason)
        session.commit()
        return PollResult("failed", detail=reason)
    delay = poll_delay(job.polls)
    job.next_check_at = utcnow() + timedelta(seconds=delay + POLL_CAP + settings.queued_grace)
    session.commit()
    return PollResult("again", retry_in=delay, detail=detail)

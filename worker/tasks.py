"""Celery tasks. Each is a thin shell over a plain function that tests can call directly."""

from __future__ import annotations

from celery import Task, shared_task

from shared.db import open_session
from shared.outbox import relay
from shared.tasks import FETCH_BATCH, JOB_FINISHED, POLL_JOB, PRUNE, RECONCILE, SUBMIT_JOB, send, settings_of
from worker.followups import run_follow_ups
from worker.limits import finish_in_flight
from worker.polling import poll_job_once
from worker.reconciling import SweepReport, fetch_claimed, reconcile_overdue
from worker.results import PollOutcome, SubmitOutcome
from worker.submitting import submit_claimed


# acks_late + reject_on_worker_lost: a worker killed mid-task gets the message redelivered; the compare-and-set
# claim and the attempt rows make that redelivery harmless (no second paid submit).
@shared_task(name=SUBMIT_JOB, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def submit_job(self: Task, job_id: str) -> str:
    settings = settings_of(self.app)
    result = submit_claimed(settings, job_id)
    if result.outcome is SubmitOutcome.RETRY:
        raise self.retry(countdown=result.retry_in)
    if result.outcome is SubmitOutcome.DEFERRED:  # global limits: not a retry, nothing was sent
        submit_job.apply_async(args=[job_id], countdown=result.retry_in)
    if result.outcome is SubmitOutcome.POLL:
        poll_job.apply_async(args=[job_id], countdown=result.retry_in)
    relay(settings, result.follow_ups)  # a finished job's follow-ups, committed with its last transition
    return result.outcome.value


@shared_task(name=POLL_JOB, bind=True, acks_late=True, reject_on_worker_lost=True)
def poll_job(self: Task, job_id: str) -> str:
    settings = settings_of(self.app)
    result = poll_job_once(settings, job_id)
    if result.outcome is PollOutcome.AGAIN:
        poll_job.apply_async(args=[job_id], countdown=result.retry_in)
    relay(settings, result.follow_ups)
    return result.outcome.value


# acks_late + reject_on_worker_lost: a worker killed mid-follow-up gets the message redelivered; every follow-up is
# idempotent. (On Redis that redelivery waits for the visibility timeout: the reconciler's follow-up deadline,
# shared.jobs.finishing, runs them again sooner.)
@shared_task(name=JOB_FINISHED, bind=True, acks_late=True, reject_on_worker_lost=True)
def job_finished(self: Task, job_id: str) -> list[str]:
    settings = settings_of(self.app)
    finish_in_flight(settings, job_id)
    return run_follow_ups(settings, job_id)


@shared_task(name=RECONCILE, bind=True)
def reconcile(self: Task) -> dict[str, int]:
    settings = settings_of(self.app)
    # The overdue in-flight jobs are claimed in bulk and their fetches fanned out as hookline.fetch_batch tasks.
    report = reconcile_overdue(settings, dispatch=lambda action, ids: send(settings, FETCH_BATCH, action, ids))
    return {"fetched": report.fetched, "dispatched": report.dispatched, "requeued": report.requeued,
            "timed_out": report.timed_out, "republished": report.republished,
            "follow_ups_rerun": report.follow_ups_rerun}


# Not acks_late: a lost batch is claimed again by a sweep once its lease (HOOKLINE_QUEUED_GRACE) runs out.
@shared_task(name=FETCH_BATCH, bind=True)
def fetch_batch(self: Task, action: str, job_ids: list[str]) -> dict[str, int]:
    from worker.submitting import upstream_client

    settings = settings_of(self.app)
    report = SweepReport()
    with open_session(settings) as session:  # the thread's client: its HTTP connections are kept between batches
        fetch_claimed(session, settings, upstream_client(settings), action, job_ids, report)
    return {"fetched": report.fetched, "applied": report.applied, "timed_out": report.timed_out,
            "errors": len(report.errors)}


@shared_task(name=PRUNE, bind=True)
def prune(self: Task) -> dict[str, object]:
    """The beat's daily ``hookline prune --older-than ${HOOKLINE_RETENTION_DAYS}d`` (shared.retention)."""
    from datetime import timedelta

    from shared.retention import prune as run_prune

    settings = settings_of(self.app)
    if settings.retention_days is None:
        return {"skipped": "HOOKLINE_RETENTION_DAYS is not set"}
    return run_prune(settings, timedelta(days=settings.retention_days)).as_json()

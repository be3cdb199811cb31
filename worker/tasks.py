"""Celery tasks. Each is a thin shell over a plain function that tests can call directly."""

from __future__ import annotations

from celery import Task, shared_task

from shared.admission import admit_quietly
from shared.admission.triggers import admit_after_finish, admit_after_submit
from shared.db import open_session
from shared.outbox import relay
from shared.tasks import (
    ADMIT,
    DOWNLOAD_ARTIFACTS,
    FETCH_BATCH,
    JOB_FINISHED,
    POLL_JOB,
    PRUNE,
    RECONCILE,
    SUBMIT_JOB,
    send,
    settings_of,
)
from worker.followups import advance_and_hand_off, keep_files
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
    if result.outcome is SubmitOutcome.POLL:
        poll_job.apply_async(args=[job_id], countdown=result.retry_in)
    relay(settings, result.follow_ups)  # a finished job's follow-ups, committed with its last transition
    # The job left the admission window (and a finished one its slot): a step when that can admit the next ones.
    admit_after_submit(settings, job_id=job_id, left_window=result.outcome in LEFT_WINDOW,
                       finished=result.outcome in FINISHED)
    return result.outcome.value


# A retried job is queued again and an ambiguous one still submitting: both keep their place in the window.
LEFT_WINDOW = frozenset({SubmitOutcome.ACCEPTED, SubmitOutcome.POLL, SubmitOutcome.SUCCEEDED, SubmitOutcome.FAILED})
FINISHED = frozenset({SubmitOutcome.SUCCEEDED, SubmitOutcome.FAILED})


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
    # The pipeline first (its next step is admitted as it is enqueued, shared.producer), then the files' task on its
    # own queue, then an admission step when a cap counted this job's slot (in flight is counted from the rows).
    failed = advance_and_hand_off(settings, job_id)
    admit_after_finish(settings, job_id)
    return failed


# Same delivery guarantees as job_finished; a lost one leaves the job's follow-up deadline, and the reconciler sends
# job_finished again (which sends this again).
@shared_task(name=DOWNLOAD_ARTIFACTS, bind=True, acks_late=True, reject_on_worker_lost=True)
def download_artifacts(self: Task, job_id: str, settle: bool = True) -> list[str]:
    return keep_files(settings_of(self.app), job_id, settle)


@shared_task(name=ADMIT, bind=True)
def admit(self: Task) -> int:
    """One admission step: scheduled when a rate limit ends, or sent when a producer could not run it."""
    report = admit_quietly(settings_of(self.app))
    return len(report.admitted) if report is not None else 0


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

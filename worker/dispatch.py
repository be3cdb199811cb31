"""Enqueueing by task name, so producers need not import the task modules."""

from __future__ import annotations

from functools import lru_cache

from celery import Celery

from shared.config import Settings

SUBMIT_JOB = "hookline.submit_job"
RECONCILE = "hookline.reconcile"
JOB_FINISHED = "hookline.job_finished"
POLL_JOB = "hookline.poll_job"


@lru_cache(maxsize=4)
def _sender(settings: Settings) -> Celery:
    from worker.celery_app import create_celery

    return create_celery(settings)


def enqueue_submit(settings: Settings, job_id: str, *, countdown: float | None = None) -> None:
    _sender(settings).send_task(SUBMIT_JOB, args=[job_id], countdown=countdown)


def enqueue_poll(settings: Settings, job_id: str, *, countdown: float | None = None) -> None:
    _sender(settings).send_task(POLL_JOB, args=[job_id], countdown=countdown)


def enqueue_reconcile(settings: Settings) -> None:
    _sender(settings).send_task(RECONCILE)


def enqueue_finished(settings: Settings, job_id: str) -> None:
    """After a job turned terminal (and that was committed): run its follow-ups. Never raises."""
    try:
        _sender(settings).send_task(JOB_FINISHED, args=[job_id])
    except Exception:  # noqa: BLE001 - the reconciler re-runs follow-ups for pipelines that did not advance
        import logging

        logging.getLogger("hookline.dispatch").exception("enqueue of follow-ups for job %s failed", job_id)

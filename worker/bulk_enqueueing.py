"""Enqueueing accepted bulk chunks: one message per chunk, which fans out into one submit message per job in the
workers (a broker takes a few hundred messages a second, so publishing 10,000 from the producer would hold it for a
minute; handing over 20 chunk messages takes a fraction of a second)."""

from __future__ import annotations

import logging

from celery import shared_task

from shared.config import Settings
from worker.celery_app import settings_of

log = logging.getLogger("hookline.bulk")

ENQUEUE_SUBMITS = "hookline.enqueue_submits"


def publish_submits(settings: Settings, job_ids: list[str]) -> None:
    """One ``hookline.submit_job`` message per job, over one broker connection. A failure loses nothing: the
    reconciler enqueues queued jobs that never ran."""
    from worker.dispatch import SUBMIT_JOB, _sender

    app = _sender(settings)
    try:
        with app.producer_or_acquire() as producer:
            for job_id in job_ids:
                app.send_task(SUBMIT_JOB, args=[job_id], producer=producer)
    except Exception:  # noqa: BLE001
        log.exception("enqueue of %d bulk jobs failed; the reconciler will enqueue them", len(job_ids))


def enqueue_submits(settings: Settings, job_ids: list[str]) -> None:
    """Hand a committed chunk to the workers as ONE message; publish here when that message cannot be sent."""
    from worker.dispatch import _sender  # the one cached Celery producer of this process

    if not job_ids:
        return
    try:
        _sender(settings).send_task(ENQUEUE_SUBMITS, args=[list(job_ids)])
    except Exception:  # noqa: BLE001
        log.warning("could not hand %d jobs to the workers; publishing them here", len(job_ids))
        publish_submits(settings, job_ids)


# acks_late + reject_on_worker_lost: a worker killed mid-fan-out gets the chunk again; the submit claim is a
# compare-and-set, so a job enqueued twice is still submitted (and paid for) once.
@shared_task(name=ENQUEUE_SUBMITS, bind=True, acks_late=True, reject_on_worker_lost=True)
def enqueue_submits_task(self, job_ids: list[str]) -> int:  # type: ignore[no-untyped-def]
    publish_submits(settings_of(self.app), list(job_ids))
    return len(job_ids)

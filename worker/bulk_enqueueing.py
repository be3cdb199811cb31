"""The worker side of bulk enqueueing: one message per accepted chunk fans out here into one submit per job.

A broker takes a few hundred messages a second, so publishing 10,000 from the producer would hold it for a minute;
handing over 20 chunk messages takes a fraction of a second (``shared.tasks.enqueue_submits``).
"""

from __future__ import annotations

from celery import Task, shared_task

from shared.tasks import ENQUEUE_SUBMITS, publish_submits, settings_of


# acks_late + reject_on_worker_lost: a worker killed mid-fan-out gets the chunk again; the submit claim is a
# compare-and-set, so a job enqueued twice is still submitted (and paid for) once.
@shared_task(name=ENQUEUE_SUBMITS, bind=True, acks_late=True, reject_on_worker_lost=True)
def enqueue_submits_task(self: Task, job_ids: list[str]) -> int:
    publish_submits(settings_of(self.app), list(job_ids))
    return len(job_ids)

"""A bulk chunk's message from before admission (``hookline.enqueue_submits``): it now runs one admission step.

Jobs wait as rows until the admission step (``shared.admission``) sends them; a chunk message left in the broker
by an older version only needs that step to run.
"""

from __future__ import annotations

from celery import Task, shared_task

from shared.admission import admit_quietly
from shared.tasks import ENQUEUE_SUBMITS, settings_of


@shared_task(name=ENQUEUE_SUBMITS, bind=True, acks_late=True, reject_on_worker_lost=True)
def enqueue_submits_task(self: Task, job_ids: list[str]) -> int:
    report = admit_quietly(settings_of(self.app))
    return len(report.admitted) if report is not None else 0

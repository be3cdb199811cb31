"""The Celery app factory for workers and beat: the shared broker settings plus the task modules and schedule."""

from __future__ import annotations

from celery import Celery
from celery.schedules import crontab
from kombu import Queue

import worker.heartbeats  # noqa: F401 - connects worker_ready / worker_shutdown
from shared.config import Settings, load_settings
from shared.tasks import FILES_QUEUE, PRUNE, QUEUE, RECONCILE, SEND_OVERDUE_WEBHOOKS, configure_broker

__all__ = ["QUEUE", "create_celery"]

PRUNE_AT = {"hour": 3, "minute": 17}  # UTC, daily: a crontab survives beat restarts (an interval would start over)


def create_celery(settings: Settings | None = None) -> Celery:
    settings = settings or load_settings()
    app = Celery("hookline", broker=settings.broker_url,
                 include=["worker.tasks", "worker.delivering", "worker.bulk_enqueueing"])
    configure_broker(app, settings)
    app.conf.update(
        worker_prefetch_multiplier=1,
        # A worker started without -Q (plain `celery -A worker.app worker`) consumes the files' queue too.
        task_queues=(Queue(QUEUE), Queue(FILES_QUEUE)),
        worker_hijack_root_logger=False,
        # One beat sends; any other is a standby until the lease lapses (worker/beat_lock.py).
        beat_scheduler="worker.beat_lock:LeasedScheduler",
        beat_schedule={
            "reconcile": {
                "task": RECONCILE,
                "schedule": settings.reconcile_interval,
                # A sweep that could not start within one interval is stale: the next one covers it.
                "options": {"expires": settings.reconcile_interval},
            },
            # Safety net for outgoing producer webhooks whose task message was lost.
            "send-overdue-webhooks": {
                "task": SEND_OVERDUE_WEBHOOKS,
                "schedule": settings.reconcile_interval,
                "options": {"expires": settings.reconcile_interval},
            },
        },
    )
    if settings.retention_days is not None:  # HOOKLINE_RETENTION_DAYS: prune finished work once a day
        app.conf.beat_schedule["prune"] = {"task": PRUNE, "schedule": crontab(**PRUNE_AT),
                                           "options": {"expires": 3600}}
    return app

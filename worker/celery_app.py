"""The Celery app factory. Settings come from ``shared.config``; the broker is Redis or the embedded one."""

from __future__ import annotations

from pathlib import Path

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

import worker.heartbeats  # noqa: F401 - connects worker_ready / worker_shutdown
from shared.config import EMBEDDED_BROKER_SCHEME, Settings, load_settings

TRANSPORT_ALIASES[EMBEDDED_BROKER_SCHEME.rstrip("+")] = "worker.embedded_broker:Transport"

QUEUE = "hookline"


def create_celery(settings: Settings | None = None) -> Celery:
    settings = settings or load_settings()
    app = Celery("hookline", broker=settings.broker_url, include=["worker.tasks", "worker.delivering", "worker.bulk_enqueueing"])
    transport_options: dict[str, object] = {"polling_interval": 0.05}
    if settings.embedded_broker:
        Path(settings.var_dir).mkdir(parents=True, exist_ok=True)
        transport_options["connect_args"] = {"timeout": 30}
    else:
        # Our countdowns are seconds long; an ETA past the visibility timeout would be redelivered again and again.
        transport_options["visibility_timeout"] = 3600
    app.conf.update(
        task_ignore_result=True,
        result_backend=None,
        task_default_queue=QUEUE,
        worker_prefetch_multiplier=1,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        timezone="UTC",
        beat_schedule={
            "reconcile": {
                "task": "hookline.reconcile",
                "schedule": settings.reconcile_interval,
                # A sweep that could not start within one interval is stale: the next one covers it.
                "options": {"expires": settings.reconcile_interval},
            },
            # Safety net for outgoing producer webhooks whose task message was lost.
            "send-overdue-webhooks": {
                "task": "hookline.send_overdue_webhooks",
                "schedule": settings.reconcile_interval,
                "options": {"expires": settings.reconcile_interval},
            },
        },
    )
    app.hookline_settings = settings  # type: ignore[attr-defined]
    return app


def settings_of(app: Celery) -> Settings:
    return getattr(app, "hookline_settings", None) or load_settings()

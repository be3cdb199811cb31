"""Every Celery task name, and the one way to send work: by name, so producers never import the worker.

The worker registers tasks under these names (``worker/tasks.py``, ``worker/delivering.py``,
``worker/bulk_enqueueing.py``); the receiver, the producer API, bulk, pipelines and the reconciler send to them
through ``send``. A publish that fails is never lost work: the job or delivery row is already committed, and the
reconciler's level-triggered sweeps enqueue what stayed unsent. A job's follow-ups (``hookline.job_finished``) go
through the transactional outbox (``shared.outbox``), which publishes here with ``publish_in_order``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

from shared.config import EMBEDDED_BROKER_SCHEME, Settings, load_settings

log = logging.getLogger("hookline.tasks")

QUEUE = "hookline"
# A finished job's downloads go to a queue of their own, which `hookline worker` consumes too: the consumer takes
# the queues in turn, so the next pipeline step's hookline.job_finished never waits behind a backlog of downloads.
FILES_QUEUE = "hookline.files"
WORKER_QUEUES = f"{QUEUE},{FILES_QUEUE}"  # what every worker consumes (celery worker -Q)

SUBMIT_JOB = "hookline.submit_job"
POLL_JOB = "hookline.poll_job"
JOB_FINISHED = "hookline.job_finished"
RECONCILE = "hookline.reconcile"
ENQUEUE_SUBMITS = "hookline.enqueue_submits"  # before admission: a bulk chunk's fan-out; now runs admission
ADMIT = "hookline.admit"  # one admission step (shared.admission), scheduled when a rate limit ends
DELIVER_WEBHOOK = "hookline.deliver_webhook"
SEND_OVERDUE_WEBHOOKS = "hookline.send_overdue_webhooks"
PRUNE = "hookline.prune"  # beat, once a day, when HOOKLINE_RETENTION_DAYS is set
FETCH_BATCH = "hookline.fetch_batch"  # the reconcile sweep's fan-out: one batch fetch of claimed overdue jobs
DOWNLOAD_ARTIFACTS = "hookline.download_artifacts"  # a finished job's files and news, sent by job_finished

# On Redis a countdown longer than the visibility timeout (one hour) is redelivered again and again, so a long
# wait is made of hops no longer than this: the task sees it woke early and asks for the rest.
MAX_COUNTDOWN = 3000.0

TRANSPORT_ALIASES[EMBEDDED_BROKER_SCHEME.rstrip("+")] = "shared.embedded_broker:Transport"


def configure_broker(app: Celery, settings: Settings) -> Celery:
    """The broker settings every hookline Celery app shares, producer or worker."""
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
        task_routes={DOWNLOAD_ARTIFACTS: {"queue": FILES_QUEUE}},
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        timezone="UTC",
    )
    app.hookline_settings = settings
    return app


def settings_of(app: Celery) -> Settings:
    """The settings a Celery app was built with (the environment's, for an app built elsewhere)."""
    return getattr(app, "hookline_settings", None) or load_settings()


@lru_cache(maxsize=4)
def sender(settings: Settings) -> Celery:
    """The one cached producer app of this process for these settings: it knows the broker, not the tasks."""
    return configure_broker(Celery("hookline", broker=settings.broker_url), settings)


def send(settings: Settings, name: str, *args: Any, countdown: float | None = None) -> None:
    """Publish one task message by name. Raises when the broker cannot take it; callers decide what that means."""
    sender(settings).send_task(name, args=list(args), countdown=countdown)


def enqueue_submit(settings: Settings, job_id: str, *, countdown: float | None = None) -> None:
    send(settings, SUBMIT_JOB, job_id, countdown=countdown)


def enqueue_poll(settings: Settings, job_id: str, *, countdown: float | None = None) -> None:
    send(settings, POLL_JOB, job_id, countdown=countdown)


def publish_in_order(settings: Settings, messages: Sequence[tuple[str, list[Any]]]) -> tuple[int, Exception | None]:
    """Publish ``(task name, args)`` messages in order over one broker connection: how many the broker took, and
    the error that stopped the rest (None when all went). For ``shared.outbox``, whose rows keep what did not go."""
    if not messages:
        return 0, None
    app, published = sender(settings), 0
    try:
        with app.producer_or_acquire() as producer:
            batch = getattr(producer, "batch", None)  # kombu >= 5.7: one Redis pipeline for all, one round trip
            if batch is not None and len(messages) > 1:
                with batch(max_size=len(messages)):
                    for name, args in messages:
                        app.send_task(name, args=list(args), producer=producer)
                return len(messages), None  # all went at the flush; a failed flush sent none (or some: harmless)
            for name, args in messages:
                app.send_task(name, args=list(args), producer=producer)
                published += 1
    except Exception as exc:  # noqa: BLE001 - returned, not swallowed: the caller records it on its rows
        return published, exc
    return published, None


def enqueue_delivery(settings: Settings, delivery_id: str, *, countdown: float | None = None) -> None:
    """Hand an outgoing webhook delivery to the workers. Never raises: a lost message is picked up by the
    ``send_overdue_webhooks`` sweep."""
    try:
        wait = None if countdown is None else max(0.0, min(countdown, MAX_COUNTDOWN))
        send(settings, DELIVER_WEBHOOK, delivery_id, countdown=wait)
    except Exception:  # noqa: BLE001
        log.exception("enqueue of delivery %s failed; the overdue sweep will send it", delivery_id)

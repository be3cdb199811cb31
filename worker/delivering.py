"""Outgoing webhook deliveries as Celery tasks: one attempt per task run, the next one by countdown, never a sleep.

On Redis a countdown longer than the visibility timeout is redelivered again and again, so a long wait is made of
hops no longer than MAX_COUNTDOWN: ``deliver`` sees it woke early and asks for the rest.
"""

from __future__ import annotations

import logging

from celery import shared_task

from shared.config import Settings
from shared.db import session_factory
from shared.outgoing.delivery import deliver, overdue_deliveries
from worker.celery_app import settings_of

log = logging.getLogger("hookline.delivering")

DELIVER_WEBHOOK = "hookline.deliver_webhook"
SEND_OVERDUE_WEBHOOKS = "hookline.send_overdue_webhooks"
MAX_COUNTDOWN = 3000.0  # below Redis' one-hour visibility timeout


def enqueue_delivery(settings: Settings, delivery_id: str, *, countdown: float | None = None) -> None:
    """Hand a delivery to the workers. Never raises: a lost message is picked up by ``send_overdue_webhooks``."""
    from worker.dispatch import _sender  # the one cached Celery producer of this process

    try:
        wait = None if countdown is None else max(0.0, min(countdown, MAX_COUNTDOWN))
        _sender(settings).send_task(DELIVER_WEBHOOK, args=[delivery_id], countdown=wait)
    except Exception:  # noqa: BLE001
        log.exception("enqueue of delivery %s failed; the overdue sweep will send it", delivery_id)


@shared_task(name=DELIVER_WEBHOOK, bind=True)
def deliver_webhook(self, delivery_id: str) -> str:  # type: ignore[no-untyped-def]
    settings = settings_of(self.app)
    result = deliver(settings, delivery_id)
    if result.retry_in is not None:
        enqueue_delivery(settings, delivery_id, countdown=result.retry_in)
    return result.status


@shared_task(name=SEND_OVERDUE_WEBHOOKS, bind=True)
def send_overdue_webhooks(self) -> int:  # type: ignore[no-untyped-def]
    """Level-triggered safety net (for beat): enqueue pending deliveries whose attempt is past due."""
    settings = settings_of(self.app)
    with session_factory(settings)() as session:
        ids = overdue_deliveries(session)
    for delivery_id in ids:
        enqueue_delivery(settings, delivery_id)
    return len(ids)

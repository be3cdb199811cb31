"""Outgoing webhook deliveries as Celery tasks: one attempt per task run, the next one by countdown, never a sleep.

A long wait is made of hops no longer than ``shared.tasks.MAX_COUNTDOWN``: ``deliver`` sees it woke early and asks
for the rest.
"""

from __future__ import annotations

from celery import Task, shared_task

from shared.db import open_session
from shared.outgoing.delivery import deliver, overdue_deliveries
from shared.tasks import DELIVER_WEBHOOK, SEND_OVERDUE_WEBHOOKS, enqueue_delivery, settings_of


@shared_task(name=DELIVER_WEBHOOK, bind=True)
def deliver_webhook(self: Task, delivery_id: str) -> str:
    settings = settings_of(self.app)
    result = deliver(settings, delivery_id)
    if result.retry_in is not None:
        enqueue_delivery(settings, delivery_id, countdown=result.retry_in)
    return result.status.value


@shared_task(name=SEND_OVERDUE_WEBHOOKS, bind=True)
def send_overdue_webhooks(self: Task) -> int:
    """Level-triggered safety net (for beat): enqueue pending deliveries whose attempt is past due."""
    settings = settings_of(self.app)
    with open_session(settings) as session:
        ids = overdue_deliveries(session)
    for delivery_id in ids:
        enqueue_delivery(settings, delivery_id)
    return len(ids)

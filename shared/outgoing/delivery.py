"""Sending one webhook event, signed with Standard Webhooks, and deciding when to try again.

One call of ``deliver`` is one attempt, never a loop: the Celery task schedules the next attempt with a countdown.
- 2xx: delivered.  410: the endpoint is disabled (DisabledEndpoint); later events to it are recorded, not sent.
- anything else (other status, timeout, refused connection, refused URL): retried on ``settings.webhook_schedule``
  with jitter; 429/502/503/504 honour Retry-After. After the last one the delivery is ``failed``.
Redirects are not followed (a redirect could lead past the callback URL check).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, cast

import requests
from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from shared.apikeys import webhook_secret_for, webhook_secrets_for
from shared.cometapi.retry import jitter, parse_retry_after
from shared.config import Settings
from shared.db import open_session
from shared.models import Delivery, DisabledEndpoint, utcnow
from shared.net.callback_urls import refusal_at_send
from shared.outgoing.events import LOCAL_OWNER
from shared.states import DeliveryStatus

log = logging.getLogger("hookline.delivery")

CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 15.0
RETRY_AFTER_STATUSES = frozenset({429, 502, 503, 504})
# While an attempt is being made, the row says "look again after this": a worker that dies mid-send leaves a row
# the overdue sweep picks up, and a duplicate task message finds the attempt already claimed.
ATTEMPT_LEASE = timedelta(seconds=60)
USER_AGENT = "hookline-webhooks/1"
EARLY_SLACK = timedelta(seconds=0.2)  # a task this close to its time sends now

Poster = Callable[..., requests.Response]
D = DeliveryStatus


class AttemptStatus(str, Enum):
    """What one ``deliver`` call came to: the delivery's status after it, or why nothing was sent."""

    DELIVERED = D.DELIVERED.value
    PENDING = D.PENDING.value  # another attempt is due (``retry_in``)
    FAILED = D.FAILED.value
    DISABLED = D.DISABLED.value
    SKIPPED = "skipped"  # not pending, or another attempt holds it: nothing sent
    MISSING = "missing"  # no such delivery


@dataclass(frozen=True)
class AttemptResult:
    status: AttemptStatus
    http_status: int | None = None
    error: str | None = None
    retry_in: float | None = None  # seconds until the next attempt, when one is due


def next_delay(attempts_made: int, schedule: tuple[float, ...], *, retry_after: float | None = None,
               rng: random.Random | None = None) -> float | None:
    """Seconds before attempt ``attempts_made + 1``, or None when the schedule is used up. Pure but for jitter.

    The schedule lists the waits between attempts, so there are ``len(schedule) + 1`` attempts in all. A
    Retry-After (from 429/502/503/504) replaces the scheduled wait, capped at the schedule's longest wait."""
    if attempts_made < 1 or attempts_made > len(schedule):
        return None
    if retry_after is not None:
        return min(max(retry_after, 0.0), max(schedule))
    return jitter(schedule[attempts_made - 1], rng)


def signing_secret(settings: Settings, api_key_id: str | None) -> str:
    return webhook_secret_for(settings, api_key_id or LOCAL_OWNER)


def signed_request(settings: Settings, delivery: Delivery, now: datetime) -> tuple[bytes, dict[str, str]]:
    """The exact bytes to send and the Standard Webhooks headers over them (a fresh timestamp per attempt)."""
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True)
    signature = " ".join(Webhook(secret).sign(delivery.msg_id, now, body)
                         for secret in webhook_secrets_for(settings, delivery.api_key_id or LOCAL_OWNER))
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return body.encode(), headers


def _claim_attempt(session: Session, delivery: Delivery, now: datetime, *, manual: bool) -> bool:
    """Compare-and-set on the attempt counter: two copies of one task message cannot both send."""
    allowed = [D.PENDING.value, D.FAILED.value] if manual else [D.PENDING.value]
    stmt = (
        update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.attempts == delivery.attempts, Delivery.status.in_(allowed))
        .values(attempts=Delivery.attempts + 1, status=D.PENDING.value, next_attempt_at=now + ATTEMPT_LEASE,
                updated_at=now)
        .execution_options(synchronize_session=False)
    )
    claimed = cast("CursorResult[Any]", session.execute(stmt)).rowcount == 1
    session.commit()
    return claimed


def disable_endpoint(session: Session, url: str, reason: str) -> None:
    if session.scalar(select(DisabledEndpoint.id).where(DisabledEndpoint.target_url == url)) is None:
        session.add(DisabledEndpoint(target_url=url, reason=reason[:2000]))
        try:
            session.flush()
        except IntegrityError:
            session.rollback()


def _post(settings: Settings, delivery: Delivery, post: Poster, now: datetime) -> tuple[int | None, str | None,
                                                                                     float | None]:
    """(HTTP status, error, Retry-After seconds) of one POST; never raises."""
    refused = refusal_at_send(settings, delivery.target_url)
    if refused:
        return None, f"refused: {refused}", None
    body, headers = signed_request(settings, delivery, now)
    try:
        resp = post(delivery.target_url, data=body, headers=headers, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                    allow_redirects=False)
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:2000], None
    if 200 <= resp.status_code < 300:
        return resp.status_code, None, None
    excerpt = (resp.text or "")[:300]
    error = f"HTTP {resp.status_code}" + (f": {excerpt}" if excerpt else "")
    if 300 <= resp.status_code < 400:
        error = f"HTTP {resp.status_code}: redirects are not followed"
    retry_after = None
    if resp.status_code in RETRY_AFTER_STATUSES:
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
    return resp.status_code, error, retry_after


def deliver(settings: Settings, delivery_id: str, *, manual: bool = False, post: Poster | None = None,
            rng: random.Random | None = None) -> AttemptResult:
    """Make one delivery attempt now, record it, and say whether (and when) another is due.

    ``manual`` (``hookline deliveries redeliver``): also resends a failed or delivered event, once, with no
    retries scheduled after it."""
    post = post or requests.post
    with open_session(settings) as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            return AttemptResult(AttemptStatus.MISSING, error=f"no delivery {delivery_id!r}")
        now = utcnow()
        if not manual:
            if delivery.status != D.PENDING:
                return AttemptResult(AttemptStatus.SKIPPED, delivery.last_http_status, f"delivery is {delivery.status}")
            if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + EARLY_SLACK:
                # Woken early (a capped countdown, or a broker redelivery): wait out the rest.
                return AttemptResult(AttemptStatus.PENDING, retry_in=(delivery.next_attempt_at - now).total_seconds())
        if session.scalar(select(DisabledEndpoint.id).where(DisabledEndpoint.target_url == delivery.target_url)):
            delivery.status, delivery.last_error = D.DISABLED.value, "endpoint disabled after HTTP 410"
            delivery.updated_at, delivery.next_attempt_at = now, None
            session.commit()
            return AttemptResult(AttemptStatus.DISABLED, delivery.last_http_status, delivery.last_error)
        if manual and delivery.status in (D.DELIVERED, D.DISABLED):
            delivery.status = D.FAILED.value  # lets the claim below take it; the attempt decides the final status
        if not _claim_attempt(session, delivery, now, manual=manual):
            session.rollback()
            return AttemptResult(AttemptStatus.SKIPPED, error="another attempt is under way")
        session.refresh(delivery)
        http_status, error, retry_after = _post(settings, delivery, post, now)
        return _record_attempt(session, settings, delivery, http_status, error, retry_after, manual=manual, rng=rng)


def _record_attempt(session: Session, settings: Settings, delivery: Delivery, http_status: int | None,
                    error: str | None, retry_after: float | None, *, manual: bool,
                    rng: random.Random | None) -> AttemptResult:
    now = utcnow()
    delivery.last_http_status, delivery.last_error, delivery.updated_at = http_status, error, now
    retry_in = None
    if error is None:
        delivery.status, delivery.next_attempt_at = D.DELIVERED.value, None
    elif http_status == 410:
        delivery.status, delivery.next_attempt_at = D.DISABLED.value, None
        disable_endpoint(session, delivery.target_url, f"HTTP 410 on event {delivery.msg_id}")
    else:
        retry_in = None if manual else next_delay(delivery.attempts, settings.webhook_schedule,
                                                  retry_after=retry_after, rng=rng)
        delivery.status = (D.PENDING if retry_in is not None else D.FAILED).value
        delivery.next_attempt_at = now + timedelta(seconds=retry_in) if retry_in is not None else None
    session.commit()
    log.info("delivery %s (%s) attempt %d to %s: %s %s", delivery.id, delivery.event_type, delivery.attempts,
             delivery.target_url, delivery.status, error or http_status)
    return AttemptResult(AttemptStatus(delivery.status), http_status, error, retry_in)


def overdue_deliveries(session: Session, *, limit: int = 500) -> list[str]:
    """Pending deliveries whose next attempt is past due: their task message was lost (or its worker died)."""
    stmt = (select(Delivery.id).where(Delivery.status == D.PENDING.value, Delivery.next_attempt_at <= utcnow())
            .order_by(Delivery.next_attempt_at).limit(limit))
    return list(session.scalars(stmt))


def enable_endpoint(session: Session, url: str) -> bool:
    """Forget a 410: events to ``url`` are sent again. True when it was disabled."""
    row = session.scalar(select(DisabledEndpoint).where(DisabledEndpoint.target_url == url))
    if row is None:
        return False
    session.delete(row)
    session.commit()
    return True


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": delivery.id, "msg_id": delivery.msg_id, "event_type": delivery.event_type,
        "target_url": delivery.target_url, "status": delivery.status, "attempts": delivery.attempts,
        "last_http_status": delivery.last_http_status, "last_error": delivery.last_error,
        "next_attempt_at": iso(delivery.next_attempt_at), "created_at": iso(delivery.created_at),
        "updated_at": iso(delivery.updated_at),
    }

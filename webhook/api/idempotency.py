"""``Idempotency-Key`` on every POST of /v1 (Stripe-style): one key, one effect, one answer.

- Same key (per API key), same request (method, path, query and body, JSON key order aside): the stored status and
  body come back, with ``Idempotent-Replayed: true``; nothing is created again.
- Same key, different request: 422 ``idempotency_key_reused``.
- While the first request with a key is still running, a duplicate gets 409 ``idempotency_in_progress`` with
  ``Retry-After``, then (once it finished) the stored answer.
- Only 2xx answers are stored: a request refused for bad input (or failing) releases its key, so it can be
  corrected and sent again with the same key.

How: a request first **claims** its key, a row ``(owner, key)`` with status ``in_progress`` (unique on the pair), and
at the end sets it ``done`` with its answer. Two ways to run, one row and one set of rules:

- ``run_idempotent``: the claim, the work and the answer are ONE transaction. A concurrent duplicate's claim waits
  on the unique index (PostgreSQL) or the write lock (SQLite) until the first commits, then fails and it replays
  the answer; if the first is refused (rolled back), the duplicate runs. Nothing is ever half-done.
- ``run_claimed``, for work that commits on its own (a bulk file in chunks, pipeline cancel/retry): the claim is
  committed first, so a duplicate sees ``in_progress`` and gets 409. A claim left behind by a crashed request
  expires ``CLAIM_TTL`` after it was taken or last renewed (``keep_alive``); then the key can be used again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, cast

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.models import IdempotencyRecord, utcnow
from webhook.api.auth import ApiError, error_body, principal
from webhook.context import db_session

log = logging.getLogger("hookline.api")

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
REPLAYED_HEADER = "Idempotent-Replayed"
CLAIM_TTL = timedelta(minutes=10)  # a claim not renewed for this long is taken to be a crashed request's
RETRY_AFTER_SECONDS = 1
CLAIM_ATTEMPTS = 5  # a key released by a refused request between our insert and our read: look again


class KeyStatus(str, Enum):
    IN_PROGRESS = "in_progress"
    DONE = "done"


@dataclass
class Reply:
    """What a POST view produced: its answer, and what to do once it is committed (enqueue work)."""

    status: int
    body: dict[str, Any]
    after_commit: Callable[[], None] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Claim:
    """This request's hold on its key: the row, and the ``claimed_at`` that proves it is still ours."""

    record_id: int
    claimed_at: datetime


def idempotency_key() -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise ApiError(400, "invalid_idempotency_key", f"must be 1-{MAX_KEY_LENGTH} characters", HEADER)
    return key


def request_fingerprint() -> str:
    raw = request.get_data(cache=True)
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):
        canonical = raw
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), request.query_string, canonical):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def respond(reply: Reply) -> ResponseReturnValue:
    return jsonify(reply.body), reply.status, reply.headers


def _stored(session: Session, key: str) -> IdempotencyRecord | None:
    return session.scalar(select(IdempotencyRecord).where(
        IdempotencyRecord.api_key_id == principal().owner, IdempotencyRecord.key == key)
        .execution_options(populate_existing=True))


def _in_progress() -> ResponseReturnValue:
    body = error_body("idempotency_in_progress", "a request with this Idempotency-Key is still in progress; "
                      "retry after it finished to get its answer", HEADER)
    return jsonify(body), 409, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def _answer_for(record: IdempotencyRecord, fingerprint: str, now: datetime) -> ResponseReturnValue | None:
    """What a request gets for a key already held by ``record``: the replay, 422, 409; None if the claim expired."""
    expired = record.status == KeyStatus.IN_PROGRESS and (record.claimed_at is None
                                                         or record.claimed_at <= now - CLAIM_TTL)
    if expired:
        return None
    if record.request_hash != fingerprint:
        raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used with a different request", HEADER)
    if record.status == KeyStatus.IN_PROGRESS or record.status_code is None:
        return _in_progress()
    return jsonify(record.response), record.status_code, {REPLAYED_HEADER: "true"}


def _claim(session: Session, key: str, fingerprint: str) -> Claim | ResponseReturnValue:
    """Take the key in ``session`` (flushed, not committed), or the answer this request gets instead."""
    for _ in range(CLAIM_ATTEMPTS):
        now = utcnow()
        record = _stored(session, key)
        if record is None:
            record = IdempotencyRecord(api_key_id=principal().owner, key=key, request_hash=fingerprint,
                                       status=KeyStatus.IN_PROGRESS.value, claimed_at=now, response={})
            session.add(record)
            try:
                session.flush()
            except IntegrityError:  # taken meanwhile: look at it again
                session.rollback()
                continue
            return Claim(record.id, now)
        answer = _answer_for(record, fingerprint, now)
        if answer is not None:
            return answer
        taken = cast("CursorResult[Any]", session.execute(  # a crashed request's claim: take it over, once
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == record.id, IdempotencyRecord.status == KeyStatus.IN_PROGRESS.value,
                   IdempotencyRecord.claimed_at == record.claimed_at)
            .values(request_hash=fingerprint, claimed_at=now)
            .execution_options(synchronize_session=False)
        )).rowcount == 1
        if taken:
            return Claim(record.id, now)
        session.rollback()
    return _in_progress()  # the key kept changing hands under us: contested, so still in progress


def _mine(claim: Claim) -> tuple[Any, ...]:
    """The claimed row, as long as nobody took it over (see CLAIM_TTL)."""
    return (IdempotencyRecord.id == claim.record_id, IdempotencyRecord.status == KeyStatus.IN_PROGRESS.value,
            IdempotencyRecord.claimed_at == claim.claimed_at)


def _settle(session: Session, claim: Claim, reply: Reply | None) -> bool:
    """Store ``reply`` on the claimed row when it is a 2xx, else (or for None) release the key. False if the claim
    was lost to a takeover (then nothing changes)."""
    mine = _mine(claim)
    if reply is not None and 200 <= reply.status < 300:
        stmt: Any = update(IdempotencyRecord).where(*mine).values(
            status=KeyStatus.DONE.value, status_code=reply.status, response=reply.body)
    else:
        stmt = delete(IdempotencyRecord).where(*mine)
    return cast("CursorResult[Any]", session.execute(stmt.execution_options(synchronize_session=False))).rowcount == 1


def run_idempotent(session: Session, produce: Callable[[Session], Reply]) -> ResponseReturnValue:
    """Claim the key, run ``produce`` (which adds rows to ``session`` without committing), store its answer, and
    commit it all at once; then run its ``after_commit``. A refusal (an exception) rolls everything back."""
    key = idempotency_key()
    claim: Claim | ResponseReturnValue | None = None
    if key is not None:
        claim = _claim(session, key, request_fingerprint())
        if not isinstance(claim, Claim):
            return claim
    reply = produce(session)
    if isinstance(claim, Claim) and not _settle(session, claim, reply):
        session.rollback()
        raise ApiError(409, "conflict", "this request's Idempotency-Key was taken over; try again")
    session.commit()
    if reply.after_commit is not None:
        reply.after_commit()
    return respond(reply)


KeepAlive = Callable[[], None]


def _keep_alive(claim: Claim) -> KeepAlive:
    def renew() -> None:
        now = utcnow()
        with db_session() as session:
            renewed = cast("CursorResult[Any]", session.execute(
                update(IdempotencyRecord).where(*_mine(claim)).values(claimed_at=now)
                .execution_options(synchronize_session=False))).rowcount == 1
            session.commit()
        if renewed:
            claim.claimed_at = now

    return renew


def run_claimed(produce: Callable[[KeepAlive], Reply]) -> ResponseReturnValue:
    """For work that commits on its own: claim the key in a committed transaction of its own (a duplicate now gets
    409), run ``produce``, store its answer (or release the key when it failed), then run its ``after_commit``.
    ``produce`` calls the ``KeepAlive`` it is given now and then during long work, so its claim does not expire."""
    key = idempotency_key()
    if key is None:
        reply = produce(lambda: None)
    else:
        fingerprint = request_fingerprint()
        with db_session() as session:
            claim = _claim(session, key, fingerprint)
            if not isinstance(claim, Claim):
                return claim
            session.commit()
        try:
            reply = produce(_keep_alive(claim))
        except BaseException:
            _release(claim)
            raise
        with db_session() as session:
            _settle(session, claim, reply)  # a claim lost to a takeover: the answer is still this request's
            session.commit()
    if reply.after_commit is not None:
        reply.after_commit()
    return respond(reply)


def _release(claim: Claim) -> None:
    """Free the key of a request that failed (best effort: a claim left behind expires after CLAIM_TTL)."""
    try:
        with db_session() as session:
            _settle(session, claim, None)
            session.commit()
    except Exception:  # noqa: BLE001 - the original error is the one to report
        log.exception("releasing Idempotency-Key claim %s failed", claim.record_id)

"""``Idempotency-Key`` on every POST of /v1: the first successful answer is stored and replayed.

- Same key (per API key), same request (method, path, query and body, JSON key order aside): the stored status and
  body come back, with ``Idempotent-Replayed: true``; nothing is created again.
- Same key, different request: 422 ``idempotency_key_reused``.
- Only 2xx answers are stored: a request refused for bad input can be corrected and sent again with its key.
- The record is committed in the same transaction as what the request created, so two concurrent requests with one
  key create one thing: the loser's transaction fails on the unique (owner, key) and it replays the winner's answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.models import IdempotencyRecord
from webhook.api.auth import ApiError, principal

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass
class Reply:
    """What a POST view produced: its answer, and what to do once it is committed (enqueue work)."""

    status: int
    body: dict[str, Any]
    after_commit: Callable[[], None] | None = None
    headers: dict[str, str] = field(default_factory=dict)


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
    except (ValueError, UnicodeDecodeError):
        canonical = raw
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), request.query_string, canonical):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _stored(session: Session, key: str) -> IdempotencyRecord | None:
    return session.scalar(select(IdempotencyRecord).where(
        IdempotencyRecord.api_key_id == principal().owner, IdempotencyRecord.key == key))


def _replay(record: IdempotencyRecord, fingerprint: str) -> ResponseReturnValue:
    if record.request_hash != fingerprint:
        raise ApiError(422, "idempotency_key_reused",
                       "this Idempotency-Key was used with a different request", HEADER)
    return jsonify(record.response), record.status_code, {REPLAYED_HEADER: "true"}


def replay_if_seen(session: Session) -> ResponseReturnValue | None:
    """The stored answer for this request's key, or None (no key, or not seen yet)."""
    key = idempotency_key()
    record = _stored(session, key) if key is not None else None
    return _replay(record, request_fingerprint()) if record is not None else None


def remember(session: Session, reply: Reply) -> None:
    """Store ``reply`` for this request's key (caller commits). Only 2xx answers are kept."""
    key = idempotency_key()
    if key is not None and 200 <= reply.status < 300:
        session.add(IdempotencyRecord(api_key_id=principal().owner, key=key, request_hash=request_fingerprint(),
                                      status_code=reply.status, response=reply.body))


def respond(reply: Reply) -> ResponseReturnValue:
    return jsonify(reply.body), reply.status, reply.headers


def run_idempotent(session: Session, produce: Callable[[Session], Reply]) -> ResponseReturnValue:
    """Replay, or run ``produce`` (which adds rows to ``session`` without committing), store its answer with them
    in one commit, then run its ``after_commit``."""
    seen = replay_if_seen(session)
    if seen is not None:
        return seen
    reply = produce(session)
    remember(session, reply)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        seen = replay_if_seen(session)
        if seen is not None:
            return seen
        raise ApiError(409, "conflict", "a concurrent request changed the same records; try again") from None
    if reply.after_commit is not None:
        reply.after_commit()
    return respond(reply)

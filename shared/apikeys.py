"""Producer API keys: stored as SHA-256 hashes; each key's webhook secret is derived from the hook secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.admission.priority import parse_priority, priority_name
from shared.config import Settings, hook_secret, hook_secrets
from shared.errors import ValidationError
from shared.models import ApiKey

KEY_PREFIX = "hk_"


@dataclass(frozen=True)
class NewKey:
    id: str
    key: str  # shown once, never stored
    webhook_secret: str


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _whsec(secret: bytes, api_key_id: str) -> str:
    digest = hmac.new(secret, f"webhook|{api_key_id}".encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(digest).decode()


def webhook_secret_for(settings: Settings, api_key_id: str) -> str:
    """The key's Standard Webhooks secret (whsec_…), derived from the signing hook secret so it need not be stored."""
    return _whsec(hook_secret(settings), api_key_id)


def webhook_secrets_for(settings: Settings, api_key_id: str) -> list[str]:
    """The key's whsec_ secret under every configured hook secret, the current one first: during a rotation each
    event carries one signature per secret (Standard Webhooks: space-separated ``v1,…``), so a producer that still
    verifies with the old whsec_ and one that moved to the new one both accept it."""
    return list(dict.fromkeys(_whsec(secret, api_key_id) for secret in hook_secrets(settings)))


def create_api_key(session: Session, settings: Settings, name: str, budget_usd_per_day: float | None = None) -> NewKey:
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, key_hash=hash_key(raw), budget_usd_per_day=budget_usd_per_day)
    session.add(row)
    session.flush()
    return NewKey(id=row.id, key=raw, webhook_secret=webhook_secret_for(settings, row.id))


def authenticate(session: Session, raw_key: str) -> ApiKey | None:
    """The enabled key matching ``raw_key``, or None. The lookup is by hash, so timing reveals nothing useful."""
    if not raw_key.startswith(KEY_PREFIX):
        return None
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(raw_key))).first()
    return row if row is not None and not row.disabled else None


UNSET: Any = object()  # "not given" (None clears a limit)


def parse_limits(max_in_flight: Any = UNSET, rate: Any = UNSET, default_priority: Any = UNSET,
                 budget_usd_per_day: Any = UNSET) -> dict[str, Any]:
    """The admission limits to set on a key, validated (ValidationError naming the field); None clears one.
    ``max_in_flight``: a whole number from 1 to 1,000,000; ``rate``: submits per second, above 0 and at most
    1,000,000; ``default_priority``: interactive | pipeline | bulk | an integer (``shared.admission.priority``);
    ``budget_usd_per_day``: US dollars per UTC day, above 0 (a spent budget makes its jobs wait at admission)."""
    changes: dict[str, Any] = {}
    if max_in_flight is not UNSET:
        if max_in_flight is not None and (isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int)
                                          or not 1 <= max_in_flight <= 1_000_000):
            raise ValidationError("must be a whole number of jobs from 1 to 1000000, or null", field="max_in_flight")
        changes["max_in_flight"] = max_in_flight
    if rate is not UNSET:
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float)
                                 or not 0 < rate <= 1_000_000 or rate != rate):
            raise ValidationError("must be a number of submits per second above 0 (at most 1000000), or null",
                                  field="rate")
        changes["rate"] = None if rate is None else float(rate)
    if default_priority is not UNSET:
        changes["default_priority"] = (None if default_priority is None
                                       else parse_priority(default_priority, field="default_priority"))
    if budget_usd_per_day is not UNSET:
        if budget_usd_per_day is not None and (
                isinstance(budget_usd_per_day, bool) or not isinstance(budget_usd_per_day, int | float)
                or not 0 < budget_usd_per_day <= 1_000_000 or budget_usd_per_day != budget_usd_per_day):
            raise ValidationError("must be a number of US dollars above 0 (at most 1000000), or null",
                                  field="budget_usd_per_day")
        changes["budget_usd_per_day"] = None if budget_usd_per_day is None else float(budget_usd_per_day)
    return changes


def set_limits(session: Session, key_id: str, changes: dict[str, Any]) -> ApiKey | None:
    """Apply ``parse_limits`` changes to a key (the caller commits); None when there is no such key. They hold
    from the next admission step on; jobs already admitted keep their slots."""
    key = session.get(ApiKey, key_id)
    if key is None:
        return None
    for name, value in changes.items():
        setattr(key, name, value)
    return key


def key_json(key: ApiKey) -> dict[str, Any]:
    """A key as the admin sees it: never the key itself nor its hash."""
    return {"id": key.id, "name": key.name, "budget_usd_per_day": key.budget_usd_per_day, "disabled": key.disabled,
            "max_in_flight": key.max_in_flight, "rate": key.rate,
            "default_priority": None if key.default_priority is None else _label(key.default_priority),
            "created_at": key.created_at.isoformat() if key.created_at else None}


def _label(priority: int) -> str | int:
    name = priority_name(priority)
    return priority if name == str(priority) else name

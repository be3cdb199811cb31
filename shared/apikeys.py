"""Producer API keys: stored as SHA-256 hashes; each key's webhook secret is derived from the hook secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.config import Settings, hook_secret, hook_secrets
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

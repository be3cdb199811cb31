"""Capability URLs for callbacks: token = base64url(HMAC-SHA256(secret, "job_id|attempt")).

The upstream signs nothing, so the secret lives in the URL. Tests sign with ``hook_token`` itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from shared.config import Settings, hook_secret
from shared.redaction import redact_tokens

HOOK_PATH = "/hooks/cometapi/{job_id}/{attempt}/{token}"


def hook_token(secret: bytes, job_id: str, attempt: int) -> str:
    digest = hmac.new(secret, f"{job_id}|{attempt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify_hook_token(secret: bytes, job_id: str, attempt: int, token: str) -> bool:
    """Constant-time check of a token from a callback URL."""
    expected = hook_token(secret, job_id, attempt)
    return hmac.compare_digest(expected.encode(), token.encode("utf-8", "replace"))


def verify_with_any(secrets: tuple[bytes, ...], job_id: str, attempt: int, token: str) -> bool:
    """True when any configured secret made the token (a rotation: URLs signed by the old secret still arrive).
    Every secret is tried, so the time taken does not say which one matched."""
    matched = False
    for secret in secrets:
        matched |= verify_hook_token(secret, job_id, attempt, token)
    return matched


def notify_hook_url(settings: Settings, job_id: str, attempt: int) -> str | None:
    """The per-job, per-attempt callback URL, or None in polling mode (no public URL)."""
    if not settings.public_url:
        return None
    token = hook_token(hook_secret(settings), job_id, attempt)
    return settings.public_url + HOOK_PATH.format(job_id=job_id, attempt=attempt, token=token)


def redact_hook_url(url: str | None) -> str | None:
    """The URL with its token cut off, for logs and the ledger."""
    return redact_tokens(url) if url else url

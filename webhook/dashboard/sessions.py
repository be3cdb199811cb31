"""Server-side dashboard sessions: the signed cookie alone is not enough, its session id must have a live row.

The cookie carries a random id; the ``dashboard_sessions`` row holds only its SHA-256 (a database reader learns no
usable id). Logging out deletes the row, so a copied cookie stops working on every receiver of the deployment.
Rows live ``SESSION_LIFETIME`` at most; expired ones are deleted at the next login.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from shared.models import DashboardSession, utcnow

SESSION_LIFETIME = timedelta(days=7)


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_dashboard_session(db: Session, api_key_id: str | None) -> str:
    """A new session id for the cookie, its row added to ``db`` (the caller commits); expired rows are dropped."""
    now = utcnow()
    db.execute(delete(DashboardSession).where(DashboardSession.expires_at < now))
    session_id = secrets.token_urlsafe(32)
    db.add(DashboardSession(id_hash=_id_hash(session_id), api_key_id=api_key_id, created_at=now,
                            expires_at=now + SESSION_LIFETIME))
    return session_id


def session_is_live(db: Session, session_id: str, api_key_id: str | None) -> bool:
    """True while the session's row exists, has not expired and belongs to the same viewer."""
    row = db.get(DashboardSession, _id_hash(session_id))
    return row is not None and row.api_key_id == api_key_id and row.expires_at > utcnow()


def revoke_dashboard_session(db: Session, session_id: str) -> None:
    """Delete the session's row (the caller commits): every copy of its cookie is logged out."""
    db.execute(delete(DashboardSession).where(DashboardSession.id_hash == _id_hash(session_id)))

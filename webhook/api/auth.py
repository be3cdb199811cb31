"""Who is calling the producer API, and what they may see; the one error type and JSON error shape of /v1.

Three kinds of caller:
- an API key (``Authorization: Bearer hk_…``, created with ``hookline apikey create``): sees only its own jobs,
  pipelines and bulk batches; another key's are 404, exactly as if they did not exist;
- the admin token (``HOOKLINE_API_TOKEN``): sees everything; what it creates belongs to no key;
- nobody, when neither is configured (no token and no key exists yet): the API is open, as the embedded
  single-machine default is. Creating the first key closes it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from flask import g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, select

from shared.apikeys import authenticate
from shared.errors import HooklineError
from shared.models import ApiKey
from webhook.context import db_session, settings


class ApiError(HooklineError):
    """A /v1 request cannot be served as asked; carries the HTTP status and the error body's code and field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 details: list[dict[str, Any]] | None = None) -> None:
        self.status, self.code, self.message, self.field, self.details = status, code, message, field, details
        super().__init__(f"{status} {code}: {message}")


def error_body(code: str, message: str, field: str | None = None,
               details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    if details is not None:
        body["details"] = details
    return {"error": body}


def error_response(exc: ApiError) -> ResponseReturnValue:
    headers = {"WWW-Authenticate": 'Bearer realm="hookline"'} if exc.status == 401 else {}
    return jsonify(error_body(exc.code, exc.message, exc.field, exc.details)), exc.status, headers


@dataclass(frozen=True)
class Principal:
    kind: str  # key | admin | open
    api_key_id: str | None = None

    @property
    def owner(self) -> str:
        """Scope of idempotency keys and bulk line keys: the API key id, "" for the admin token and open mode."""
        return self.api_key_id or ""

    def can_see(self, api_key_id: str | None) -> bool:
        return self.kind != "key" or api_key_id == self.api_key_id

    def scope(self, stmt: Select[Any], column: Any) -> Select[Any]:
        """``stmt`` narrowed to what this caller may see (``column`` is the table's api_key_id)."""
        return stmt if self.kind != "key" else stmt.where(column == self.api_key_id)


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


# Read-only routes a dashboard session may use too (its players and links fetch stored files from them). A cookie
# is never enough for anything that changes state: the dashboard's SameSite=Lax cookie plus GET only.
SESSION_READABLE = frozenset({"api.jobs.read_artifact"})


def _dashboard_principal() -> Principal | None:
    if request.method not in ("GET", "HEAD") or request.endpoint not in SESSION_READABLE:
        return None
    from webhook.dashboard.auth import viewer_from_session

    viewer = viewer_from_session()
    if viewer is None:
        return None
    return Principal("admin") if viewer.is_operator else Principal("key", viewer.api_key_id)


def resolve_principal() -> Principal:
    """The caller of this request, or ApiError(401)."""
    token = _bearer()
    if token is None and (from_session := _dashboard_principal()) is not None:
        return from_session
    admin = settings().api_token
    if token and admin and hmac.compare_digest(token.encode(), admin.encode()):
        return Principal("admin")
    with db_session() as session:
        if token:
            key = authenticate(session, token)
            if key is not None:
                return Principal("key", key.id)
        elif not admin and session.scalar(select(ApiKey.id).limit(1)) is None:
            return Principal("open")
    if token:
        raise ApiError(401, "unauthorized", "unknown, disabled or wrong API key or token")
    raise ApiError(401, "unauthorized", "missing Authorization: Bearer <API key or token>")


def principal() -> Principal:
    current: Principal = g.hookline_principal
    return current


def require_principal() -> None:
    g.hookline_principal = resolve_principal()

"""Who is looking: log in with a producer API key (sees its own work) or HOOKLINE_UI_PASSWORD (the operator, sees
everything). A signed session cookie remembers it; every POST carries the session's CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.sql import Select

from shared.apikeys import KEY_PREFIX, authenticate
from shared.models import ApiKey
from webhook.context import db_session, settings
from webhook.dashboard.blueprint import dashboard

VIEWER = "hl_viewer"
CSRF = "hl_csrf"
OPEN_ENDPOINTS = {"dashboard.login", "dashboard.static"}
SelectT = TypeVar("SelectT", bound=Select)  # a select of any columns


@dataclass(frozen=True)
class Viewer:
    """The logged-in person: the operator (no key) or one producer key."""

    name: str
    api_key_id: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.api_key_id is None

    def may_see(self, owner_key_id: str | None) -> bool:
        return self.is_operator or owner_key_id == self.api_key_id

    def scope(self, stmt: SelectT, owner_column: Any) -> SelectT:
        """``stmt`` narrowed to this viewer's rows (unchanged for the operator)."""
        return stmt if self.is_operator else stmt.where(owner_column == self.api_key_id)


def current_viewer() -> Viewer:
    viewer: Viewer = g.hl_viewer
    return viewer


def csrf_token() -> str:
    token = session.get(CSRF)
    if not token:
        token = session[CSRF] = secrets.token_urlsafe(32)
    return str(token)


def _password_fingerprint(password: str) -> str:
    """Stored in the session instead of the password: changing the password logs every operator out."""
    key = current_app.secret_key
    secret = key if isinstance(key, bytes) else str(key).encode()
    return hmac.new(secret, password.encode(), hashlib.sha256).hexdigest()


def _viewer_from_session() -> Viewer | None:
    stored = session.get(VIEWER)
    if not isinstance(stored, dict):
        return None
    if stored.get("kind") == "operator":
        password = settings().ui_password
        if password and hmac.compare_digest(str(stored.get("pw", "")), _password_fingerprint(password)):
            return Viewer("operator")
        return None
    if stored.get("kind") == "api_key":
        with db_session() as db:
            key = db.get(ApiKey, str(stored.get("id")))
        if key is not None and not key.disabled:  # a disabled or deleted key ends its sessions at once
            return Viewer(key.name, key.id)
    return None


@dashboard.before_request
def require_login_and_csrf() -> ResponseReturnValue | None:
    if request.method == "POST":
        given = request.form.get("csrf_token", "")
        expected = session.get(CSRF, "")
        if not expected or not hmac.compare_digest(str(given).encode(), str(expected).encode()):
            abort(400, description="missing or stale form token: reload the page and try again")
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    viewer = _viewer_from_session()
    if viewer is None:
        session.pop(VIEWER, None)
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
    g.hl_viewer = viewer
    return None


@dashboard.context_processor
def template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "viewer": g.get("hl_viewer")}


def _safe_next(target: str | None) -> str:
    """Only our own pages: no scheme, no host, no protocol-relative tricks."""
    if target and target.startswith("/ui") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.jobs")


def _check_credential(credential: str) -> dict[str, Any] | None:
    if credential.startswith(KEY_PREFIX):
        with db_session() as db:
            key = authenticate(db, credential)
        return {"kind": "api_key", "id": key.id} if key is not None else None
    password = settings().ui_password
    if password and hmac.compare_digest(credential.encode(), password.encode()):
        return {"kind": "operator", "pw": _password_fingerprint(password)}
    return None


@dashboard.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    can_log_in_with_password = bool(settings().ui_password)
    if request.method == "POST":
        who = _check_credential(request.form.get("credential", "").strip())
        if who is not None:
            session.clear()  # a fresh session (and CSRF token) at every login: no fixation
            session[VIEWER] = who
            csrf_token()
            return redirect(_safe_next(request.form.get("next")))
        flash("That key or password is not valid.", "error")
        return render_template("dashboard/login.html", next=request.form.get("next", ""),
                               password_enabled=can_log_in_with_password), 401
    return render_template("dashboard/login.html", next=request.args.get("next", ""),
                           password_enabled=can_log_in_with_password)


@dashboard.post("/logout")
def logout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("dashboard.login"))


@dashboard.get("/")
def home() -> ResponseReturnValue:
    return redirect(url_for("dashboard.jobs"))

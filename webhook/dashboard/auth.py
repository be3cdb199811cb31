"""Who is looking: log in with a producer API key (sees its own work) or HOOKLINE_UI_PASSWORD (the operator, sees
everything). A signed session cookie remembers it, with a session id that must have a live row server-side
(``sessions``: logout revokes every copy of the cookie); every POST carries the session's CSRF token. Failed logins
are throttled per source and per account (``login_throttle``).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import abort, current_app, flash, g, make_response, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.sql import Select

from shared.apikeys import KEY_PREFIX, authenticate
from shared.models import ApiKey
from shared.states import JobStatus
from webhook.context import db_session, settings
from webhook.dashboard.blueprint import dashboard
from webhook.dashboard.login_throttle import record_failure, retry_after, throttle_keys
from webhook.dashboard.sessions import open_dashboard_session, revoke_dashboard_session, session_is_live

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


def _password_fingerprint(password: str, key: object = None) -> str:
    """Stored in the session instead of the password: changing the password logs every operator out."""
    key = current_app.secret_key if key is None else key
    secret = key if isinstance(key, bytes) else str(key).encode()
    return hmac.new(secret, password.encode(), hashlib.sha256).hexdigest()


def _fingerprint_matches(stored: str, password: str) -> bool:
    """Made with the signing key or a fallback (a hook-secret rotation keeps operators logged in)."""
    keys = [current_app.secret_key, *current_app.config.get("SECRET_KEY_FALLBACKS", [])]
    return any(hmac.compare_digest(stored, _password_fingerprint(password, key)) for key in keys)


def _stored_session_id() -> str | None:
    stored = session.get(VIEWER)
    found = stored.get("sid") if isinstance(stored, dict) else None
    return found if isinstance(found, str) else None


def viewer_from_session() -> Viewer | None:
    """The dashboard viewer of this request's session cookie, or None (also used by the artifact download route,
    so the dashboard's players can fetch from it)."""
    return _viewer_from_session()


def _viewer_from_session() -> Viewer | None:
    stored = session.get(VIEWER)
    session_id = _stored_session_id()
    if not isinstance(stored, dict) or session_id is None:  # cookies from before server-side sessions: log in again
        return None
    if stored.get("kind") == "operator":
        password = settings().ui_password
        if not password or not _fingerprint_matches(str(stored.get("pw", "")), password):
            return None
        with db_session() as db:
            return Viewer("operator") if session_is_live(db, session_id, None) else None
    if stored.get("kind") == "api_key":
        with db_session() as db:
            key = db.get(ApiKey, str(stored.get("id")))
            if key is None or key.disabled:  # a disabled or deleted key ends its sessions at once
                return None
            return Viewer(key.name, key.id) if session_is_live(db, session_id, key.id) else None
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


# Statuses of work still moving (jobs not terminal, running pipelines): list pages refresh while a row has one.
IN_FLIGHT_WORDS = [s.value for s in JobStatus if not s.terminal]


@dashboard.context_processor
def template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "viewer": g.get("hl_viewer"), "in_flight": IN_FLIGHT_WORDS}


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
        credential = request.form.get("credential", "").strip()
        keys = throttle_keys(request.remote_addr or "", credential)
        with db_session() as db:
            wait = retry_after(db, keys)
        if wait:  # checked before the credential: a right password during a lockout is refused too
            flash(f"Too many failed logins: try again in {math.ceil(wait / 60)} min.", "error")
            refused = make_response(render_template("dashboard/login.html", next=request.form.get("next", ""),
                                                    password_enabled=can_log_in_with_password), 429)
            refused.headers["Retry-After"] = str(wait)
            return refused
        who = _check_credential(credential)
        if who is not None:
            with db_session() as db:
                who["sid"] = open_dashboard_session(db, who.get("id"))
                db.commit()
            session.clear()  # a fresh session (and CSRF token) at every login: no fixation
            session[VIEWER] = who
            csrf_token()
            return redirect(_safe_next(request.form.get("next")))
        with db_session() as db:
            record_failure(db, keys)
            db.commit()
        flash("That key or password is not valid.", "error")
        return render_template("dashboard/login.html", next=request.form.get("next", ""),
                               password_enabled=can_log_in_with_password), 401
    return render_template("dashboard/login.html", next=request.args.get("next", ""),
                           password_enabled=can_log_in_with_password)


@dashboard.post("/logout")
def logout() -> ResponseReturnValue:
    session_id = _stored_session_id()
    if session_id is not None:
        with db_session() as db:
            revoke_dashboard_session(db, session_id)
            db.commit()
    session.clear()
    return redirect(url_for("dashboard.login"))


@dashboard.get("/")
def home() -> ResponseReturnValue:
    return redirect(url_for("dashboard.jobs"))

"""The /ui blueprint itself: session key, cookie policy, security headers and template filters.

Page modules attach their routes to ``dashboard``; webhook/dashboard/__init__.py imports them all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, has_request_context, request
from flask.blueprints import BlueprintSetupState
from flask.sessions import SecureCookieSessionInterface

from shared.config import Settings, hook_secrets
from shared.models import utcnow

dashboard = Blueprint("dashboard", __name__, url_prefix="/ui", template_folder="templates", static_folder="static")

# Media may come from the upstream's CDN (clip URLs) until the files are stored locally; nothing else is remote.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: http: https:; "
    "media-src 'self' http: https:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


def session_keys(settings: Settings) -> list[bytes]:
    """Derived from the hook secrets, so every receiver of a deployment accepts the same session cookies; the first
    signs, the others (a rotation's old secret) still verify (Flask's SECRET_KEY_FALLBACKS)."""
    return [hmac.new(key, b"hookline dashboard session", hashlib.sha256).digest() for key in hook_secrets(settings)]


class SecureOverHttpsSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the cookie ``Secure`` on every https request as well as when
    SESSION_COOKIE_SECURE says so (HOOKLINE_SECURE_COOKIES, or an https HOOKLINE_PUBLIC_URL)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(super().get_cookie_secure(app) or (has_request_context() and request.is_secure))


def wants_secure_cookies(settings: Settings) -> bool:
    return settings.secure_cookies or (settings.public_url or "").startswith("https://")


@dashboard.record_once
def configure_sessions(state: BlueprintSetupState) -> None:
    app = state.app
    settings: Settings = app.extensions["hookline.settings"]
    if not app.secret_key:
        app.secret_key, *fallbacks = session_keys(settings)
        app.config["SECRET_KEY_FALLBACKS"] = fallbacks
    if isinstance(app, Flask):  # always, on the receiver; the setup state only promises the sansio App
        app.session_interface = SecureOverHttpsSessions()
    if wants_secure_cookies(settings):
        app.config["SESSION_COOKIE_SECURE"] = True
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"  # with the CSRF token: cross-site POSTs carry no session


@dashboard.after_request
def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "dashboard.static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@dashboard.app_template_filter("hl_time")
def format_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 90:
        return f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} d"


@dashboard.app_template_filter("hl_ago")
def format_ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    delta = (utcnow() - value).total_seconds()
    return f"{_span(delta)} ago" if delta >= 0 else f"in {_span(delta)}"


@dashboard.app_template_filter("hl_span")
def format_span(start: datetime | None, end: datetime | None = None) -> str:
    if start is None or end is None:
        return "—"
    return _span((end - start).total_seconds())


@dashboard.app_template_filter("hl_usd")
def format_usd(value: Any) -> str:
    return f"${float(value or 0):,.3f}"


@dashboard.app_template_filter("hl_json")
def format_json(value: Any) -> str:
    """Indented JSON as text (the template escapes it), readable unlike tojson's \\u escapes."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


@dashboard.app_template_filter("hl_bytes")
def format_bytes(value: int | None) -> str:
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)

"""Dashboard login hardening (issue 11, finding 10), through the Flask test client on SQLite and PostgreSQL:
failed logins throttled per source and per account, logout revoking the session server-side, Secure cookies."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from shared.config import Settings
from webhook.app import create_app
from webhook.dashboard import login_throttle

PASSWORD = "operator-pass-123"


class Clock:
    """Stands in for ``login_throttle.clock`` so a 15-minute window passes at once."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(login_throttle, "clock", fake)
    return fake


def client_for(settings: Settings, **overrides: object) -> FlaskClient:
    app = create_app({"HOOKLINE_SETTINGS": settings.with_overrides(ui_password=PASSWORD, **overrides),
                      "TESTING": True})
    return app.test_client()


def log_in(client: FlaskClient, credential: str, source: str = "10.0.0.1", **kwargs: object) -> int:
    page = client.get("/ui/login", environ_base={"REMOTE_ADDR": source}, **kwargs)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    answer = client.post("/ui/login", data={"credential": credential, "csrf_token": token.group(1)},
                         environ_base={"REMOTE_ADDR": source}, **kwargs)
    if answer.status_code == 429:
        assert 0 < int(answer.headers["Retry-After"]) <= login_throttle.WINDOW_SECONDS
    return answer.status_code


def test_the_sixth_failure_from_one_source_gets_429(any_db: Settings, clock: Clock) -> None:
    web = client_for(any_db)
    # Unknown keys: each is its own account, so only the per-source count can stop them.
    assert [log_in(web, f"hk_guess{n}") for n in range(5)] == [401] * 5
    assert log_in(web, "hk_guess5") == 429
    assert log_in(web, PASSWORD) == 429  # the right password, during the lockout, from that source
    assert log_in(client_for(any_db), PASSWORD, source="10.0.0.2") == 302  # another source is not held back
    clock.now += login_throttle.WINDOW_SECONDS + 1
    assert log_in(web, PASSWORD) == 302


def test_the_sixth_failure_on_one_account_gets_429_from_any_source(any_db: Settings, clock: Clock) -> None:
    web = client_for(any_db)
    assert [log_in(web, "wrong", source=f"10.1.0.{n}") for n in range(5)] == [401] * 5
    assert log_in(web, "wrong", source="10.1.0.99") == 429
    assert log_in(web, PASSWORD, source="10.1.0.100") == 429  # a fresh source, the right password: still refused
    clock.now += login_throttle.WINDOW_SECONDS - 5
    assert log_in(web, PASSWORD, source="10.1.0.101") == 429
    clock.now += 6
    assert log_in(web, PASSWORD, source="10.1.0.101") == 302


def test_successful_logins_do_not_count(any_db: Settings, clock: Clock) -> None:
    web = client_for(any_db)
    assert [log_in(web, PASSWORD) for _ in range(8)] == [302] * 8
    assert [log_in(web, "wrong") for _ in range(5)] == [401] * 5


def test_logout_revokes_a_copied_cookie(any_db: Settings, clock: Clock) -> None:
    web = client_for(any_db)
    assert log_in(web, PASSWORD) == 302
    cookie = web.get_cookie("session")
    assert cookie is not None
    thief = client_for(any_db)
    thief.set_cookie("session", cookie.value)
    assert thief.get("/ui/jobs").status_code == 200  # the copy works while the session lives

    page = web.get("/ui/jobs")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token and web.post("/ui/logout", data={"csrf_token": token.group(1)}).status_code == 302

    later = thief.get("/ui/jobs")
    assert later.status_code == 302 and "/ui/login" in later.headers["Location"]
    assert web.get("/ui/jobs").status_code == 302


def session_cookie_header(client: FlaskClient, base_url: str) -> str:
    page = client.get("/ui/login", base_url=base_url)
    headers = [h for h in page.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert headers, "the login page sets the session cookie (its CSRF token)"
    return headers[0]


def test_cookies_are_secure_over_https_or_when_set(settings: Settings) -> None:
    assert "; Secure" in session_cookie_header(client_for(settings), "https://hooks.example")
    assert "; Secure" not in session_cookie_header(client_for(settings), "http://hooks.example")
    assert "; Secure" in session_cookie_header(client_for(settings, secure_cookies=True), "http://hooks.example")
    https_public = client_for(settings, public_url="https://hooks.example")
    assert "; Secure" in session_cookie_header(https_public, "http://hooks.example")


def test_cookies_are_secure_behind_a_trusted_tls_proxy(settings: Settings) -> None:
    def cookie(client: FlaskClient) -> str:
        page = client.get("/ui/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
        return next(h for h in page.headers.getlist("Set-Cookie") if h.startswith("session="))

    assert "; Secure" in cookie(client_for(settings, trusted_proxies=1))
    assert "; Secure" not in cookie(client_for(settings))  # no trusted proxy: the header is anyone's to forge

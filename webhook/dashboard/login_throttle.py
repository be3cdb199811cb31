"""The failed-login throttle: at most ``FAILURES_ALLOWED`` failed logins per ``WINDOW_SECONDS``, per source address
and per account; past that, every login from that source or to that account (even a correct one) gets 429 with
Retry-After until the window that filled up has passed. Successful logins count for nothing.

- The source is ``request.remote_addr``: the client behind HOOKLINE_TRUSTED_PROXIES proxies (``ProxyFix``).
- The account is the operator (any credential that is not an API key: the password is one shared account), or
  one API key (named by a prefix of its SHA-256, never by the key). A guessed key is its own account, so guessing
  keys is held back by the per-source limit.

The counts are rows of ``login_failures`` (a fixed window per key, started by its first failure), so every receiver
process of a deployment shares them; one upsert per failure keeps concurrent failures from being lost.
"""

from __future__ import annotations

import hashlib
import math
import time

from sqlalchemy import case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shared.apikeys import KEY_PREFIX, hash_key
from shared.errors import ConfigError
from shared.models import LoginFailure

FAILURES_ALLOWED = 5
WINDOW_SECONDS = 15 * 60.0
MAX_SOURCE_CHARS = 100  # a longer "address" (a forged header behind a proxy) is keyed by its hash


def clock() -> float:
    """Unix seconds; tests replace it to let a window pass."""
    return time.time()


def throttle_keys(source: str, credential: str) -> list[str]:
    """The rows a login attempt from ``source`` with ``credential`` is counted in: its source's and its account's."""
    if len(source) > MAX_SOURCE_CHARS:
        source = "#" + hashlib.sha256(source.encode()).hexdigest()
    account = "key:" + hash_key(credential)[:32] if credential.startswith(KEY_PREFIX) else "operator"
    return ["source:" + source, "account:" + account]


def retry_after(db: Session, keys: list[str]) -> int:
    """0 when an attempt may be checked, else the whole seconds until the fullest of ``keys``' windows ends."""
    now = clock()
    full = db.scalars(select(LoginFailure.window_start).where(
        LoginFailure.key.in_(keys), LoginFailure.failures >= FAILURES_ALLOWED,
        LoginFailure.window_start > now - WINDOW_SECONDS)).all()
    return max((math.ceil(start + WINDOW_SECONDS - now) for start in full), default=0)


def record_failure(db: Session, keys: list[str]) -> None:
    """Count one failed login in each of ``keys`` (the caller commits): one more in a running window, else the
    first of a new window."""
    now = clock()
    in_window = LoginFailure.window_start > now - WINDOW_SECONDS
    dialect = db.get_bind().dialect.name
    for key in keys:
        stmt: sqlite.Insert | postgresql.Insert
        if dialect == "sqlite":
            stmt = sqlite.insert(LoginFailure)
        elif dialect == "postgresql":
            stmt = postgresql.insert(LoginFailure)
        else:
            raise ConfigError("HOOKLINE_DATABASE_URL",
                              f"the login throttle supports SQLite and PostgreSQL, not {dialect}")
        db.execute(stmt.values(key=key, failures=1, window_start=now).on_conflict_do_update(
            index_elements=["key"],
            set_={"failures": case((in_window, LoginFailure.failures + 1), else_=1),
                  "window_start": case((in_window, LoginFailure.window_start), else_=now)}))

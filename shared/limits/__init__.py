"""The global upstream limiter: a token bucket with 429 back-off, shared by every worker.

``base`` holds the pure bucket arithmetic and the interface; ``redis`` and ``sql`` are the two backends, chosen by
the broker URL (Redis when the broker is Redis, else the SQL database).
"""

from __future__ import annotations

import os
import threading

from shared.config import Settings
from shared.limits.base import Clock, NoLimits, UpstreamLimiter, policy_of
from shared.limits.redis import RedisLimiter
from shared.limits.sql import SqlLimiter

__all__ = ["UpstreamLimiter", "build_limiter", "limiter_for", "uses_redis"]


def uses_redis(settings: Settings) -> bool:
    return settings.broker_url.startswith(("redis://", "rediss://"))


def build_limiter(settings: Settings, *, clock: Clock | None = None) -> UpstreamLimiter:
    """A new limiter for ``settings`` (tests use this with a fake clock; code uses ``limiter_for``)."""
    # Unchanged from when the limiter also held the in-flight cap: HOOKLINE_MAX_IN_FLIGHT alone (no rate) still
    # builds a stored bucket, so 429 pauses apply; with neither set, NoLimits ignores them.
    if not settings.upstream_rate and not settings.max_in_flight:
        return NoLimits()
    if uses_redis(settings):
        return RedisLimiter(settings.broker_url, policy_of(settings), clock=clock)
    return SqlLimiter(settings.database_url, policy_of(settings), clock=clock)


_limiters: dict[tuple[object, ...], UpstreamLimiter] = {}
_limiters_lock = threading.Lock()


def limiter_for(settings: Settings) -> UpstreamLimiter:
    """The process's limiter for these settings (cached per process: a forked child builds its own)."""
    key = (os.getpid(), settings.broker_url, settings.database_url, settings.upstream_rate, settings.upstream_burst,
           settings.max_in_flight)
    with _limiters_lock:
        limiter = _limiters.get(key)
        if limiter is None:
            limiter = _limiters[key] = build_limiter(settings)
        return limiter

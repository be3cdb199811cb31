"""Per-source limiting for the hook route: a token bucket per client address, spent only by rejected callbacks.

A callback whose token verifies never touches this (see ``webhook.hooks.read_callback``): genuine callbacks are
never throttled, however many bad ones arrive from the same address (behind a proxy every callback may share
one). The source is the client address behind HOOKLINE_TRUSTED_PROXIES proxies (``ProxyFix`` in ``create_app``).

The bucket is the upstream limiter's (``shared.limits.base``), over a fixed rate with bursts of ``2 * rate``: no
429 pauses and no recovery ramp here. Where it lives follows the broker, so every receiver process shares it:
- Redis when the broker is Redis: the upstream limiter's bucket script (``shared.limits.redis.BUCKET_LUA``), one
  key per source that expires once the bucket would be full again;
- this process's memory on the embedded broker (one machine, usually one receiver).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Protocol

import redis

from shared.config import Settings
from shared.limits import uses_redis
from shared.limits.base import MIN_RATE_FACTOR, MIN_WAIT, BucketPolicy, BucketState, take
from shared.limits.redis import BUCKET_LUA

REDIS_KEY_PREFIX = "hookline:hooks:source:"
log = logging.getLogger("hookline.hooks")


def source_policy(rate: float) -> BucketPolicy:
    return BucketPolicy(rate=rate, burst=max(1.0, 2 * rate))


class SourceLimits(Protocol):
    def allow(self, source: str, now: float | None = None) -> float:
        """0.0 if the rejected request may be answered normally (a token is spent), else the seconds to wait."""


class SourceLimiter:
    """In-process buckets: at most ``rate`` rejections/s per source, bursts of ``2 * rate``. Old sources are
    forgotten."""

    def __init__(self, rate: float, *, max_sources: int = 10_000) -> None:
        self.policy = source_policy(rate)
        self.max_sources = max_sources
        self._buckets: dict[str, BucketState] = {}
        self._lock = threading.Lock()

    def _bucket(self, source: str, now: float) -> BucketState:
        found = self._buckets.get(source)
        return self.policy.fresh(now) if found is None else found

    def retry_after(self, source: str, now: float | None = None) -> float:
        """Seconds until this source may be heard again (0.0 now), without spending anything."""
        now = time.monotonic() if now is None else now
        with self._lock:
            wait, _ = take(self._bucket(source, now), self.policy, now)
            return wait

    def allow(self, source: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            state = self._bucket(source, now)
            wait, taken = take(state, self.policy, now)
            self._buckets[source] = state if taken is None else taken
            if wait and len(self._buckets) > self.max_sources:
                self._buckets.pop(next(iter(self._buckets)))
            return wait


class RedisSourceLimiter:
    """The same buckets in Redis, shared by every receiver on the broker; time is the Redis server's clock."""

    def __init__(self, url: str, rate: float) -> None:
        self.policy = source_policy(rate)
        self._redis = redis.Redis.from_url(url)
        self._script = self._redis.register_script(BUCKET_LUA)
        # A bucket refills completely in burst/rate seconds; after that a missing key means the same thing.
        self._ttl_ms = max(1000, math.ceil(1000 * self.policy.burst / (self.policy.rate or 1.0)) + 1000)

    def allow(self, source: str, now: float | None = None) -> float:
        key = REDIS_KEY_PREFIX + source
        args: list[str | float] = ["take", self.policy.rate or 0.0, self.policy.burst, self.policy.recovery_seconds,
                                   "" if now is None else repr(now), 0.0, MIN_RATE_FACTOR, MIN_WAIT]
        try:
            wait = float(self._script(keys=[key], args=args))
            self._redis.pexpire(key, self._ttl_ms)
        except redis.RedisError as exc:  # the rejection is still answered; only the slowing-down is lost
            log.warning("per-source limit unavailable (%s); not throttling %s", type(exc).__name__, source)
            return 0.0
        return wait


def build_source_limiter(settings: Settings) -> SourceLimits:
    if uses_redis(settings):
        return RedisSourceLimiter(settings.broker_url, settings.hook_rate_per_source)
    return SourceLimiter(settings.hook_rate_per_source)

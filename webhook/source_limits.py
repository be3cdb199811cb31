"""Per-source limiting for the hook route: a token bucket per remote address, per process, spent by rejections.

The bucket arithmetic is the upstream limiter's (``shared.limits.base.take``), over a fixed rate: no 429 pauses
and no recovery ramp here. The buckets live in this process's memory: a flood of bad tokens is slowed where it
lands, with no database or Redis round trip on the rejection path.
"""

from __future__ import annotations

import threading
import time

from shared.limits.base import BucketPolicy, BucketState, take


class SourceLimiter:
    """At most ``rate`` requests/s per source, with bursts of ``2 * rate``. Old sources are forgotten."""

    def __init__(self, rate: float, *, max_sources: int = 10_000) -> None:
        self.policy = BucketPolicy(rate=rate, burst=max(1.0, 2 * rate))
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
        """0.0 if the request may go on (a token is spent), else the seconds until it would."""
        now = time.monotonic() if now is None else now
        with self._lock:
            state = self._bucket(source, now)
            wait, taken = take(state, self.policy, now)
            self._buckets[source] = state if taken is None else taken
            if wait and len(self._buckets) > self.max_sources:
                self._buckets.pop(next(iter(self._buckets)))
            return wait

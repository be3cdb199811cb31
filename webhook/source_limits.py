"""Per-source limiting for the hook route: a token bucket per remote address, per process, spent by rejections."""

from __future__ import annotations

import threading
import time


class SourceLimiter:
    """At most ``rate`` requests/s per source, with bursts of ``2 * rate``. Old sources are forgotten."""

    def __init__(self, rate: float, *, max_sources: int = 10_000) -> None:
        self.rate = rate
        self.burst = max(1.0, 2 * rate)
        self.max_sources = max_sources
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, source: str, now: float | None = None) -> float:
        """Seconds until this source may be heard again (0.0 now), without spending anything."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(source, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def allow(self, source: str, now: float | None = None) -> float:
        """0.0 if the request may go on, else the seconds until it would."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(source, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[source] = (tokens - 1.0, now)
                return 0.0
            self._buckets[source] = (tokens, now)
            if len(self._buckets) > self.max_sources:
                self._buckets.pop(next(iter(self._buckets)))
            return (1.0 - tokens) / self.rate

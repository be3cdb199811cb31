"""Retry policy as data: constants, a pure backoff, jitter on its own, and Retry-After parsing.

Nothing here sleeps. The Celery task retries (``self.retry(countdown=retry_delay(...))``)
and decides *whether* to retry from ``exc.retryable``; this module only says *when*.
The API docs' advice for 429/500/503/504/524: wait 2-5 s, then back off exponentially, about 3 tries.
Anchors: dramatiq ``compute_backoff``, stripe ``_add_jitter_time``.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_BASE = 2.0  # seconds before the first retry
RETRY_FACTOR = 2.0
RETRY_MAX_DELAY = 60.0
MAX_RETRIES = 3
JITTER_FRACTION = 0.25  # jitter spreads a delay over [75 %, 125 %]
# A Retry-After larger than this is clipped: on Redis, a countdown beyond the broker's
# visibility_timeout (1 h by default) is redelivered again and again.
RETRY_AFTER_MAX = 600.0


def backoff(retry_number: int, base: float = RETRY_BASE) -> float:
    """The delay before a retry: ``base * RETRY_FACTOR ** retry_number``, capped at RETRY_MAX_DELAY.

    ``retry_number`` counts the retries already made (Celery's ``self.request.retries``),
    so the first retry waits ``base``. No randomness: see ``jitter``.
    """
    if retry_number < 0:
        raise ValueError(f"retry_number must be >= 0, got {retry_number}")
    if not base > 0 or math.isinf(base):
        raise ValueError(f"base must be a positive number of seconds, got {base}")
    # Past this exponent the cap always wins; stopping here keeps the power finite.
    exponent = min(retry_number, 1024)
    try:
        delay = base * RETRY_FACTOR**exponent
    except OverflowError:
        return RETRY_MAX_DELAY
    return min(delay, RETRY_MAX_DELAY)


def jitter(delay: float, rng: random.Random | None = None) -> float:
    """``delay`` spread uniformly over ``[1 - JITTER_FRACTION, 1 + JITTER_FRACTION] * delay``.

    Pass a seeded ``random.Random`` to pin the result in tests.
    """
    if delay < 0:
        raise ValueError(f"delay must be >= 0, got {delay}")
    source = rng if rng is not None else random
    spread = source.uniform(1.0 - JITTER_FRACTION, 1.0 + JITTER_FRACTION)
    return min(max(delay * spread, delay * (1.0 - JITTER_FRACTION)), delay * (1.0 + JITTER_FRACTION))


def retry_delay(
    retry_number: int,
    *,
    base: float = RETRY_BASE,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before the next retry: jittered backoff, or the upstream's Retry-After when larger."""
    delay = jitter(backoff(retry_number, base), rng)
    if retry_after is not None and retry_after > delay:
        return min(retry_after, RETRY_AFTER_MAX)
    return delay


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(seconds, 0.0)

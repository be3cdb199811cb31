"""The global upstream limit shared by every worker process: a token bucket on calls, with 429 back-off.

Celery's ``rate_limit`` is per worker; these limits hold across all of them. The state lives in Redis when the
broker is Redis (``shared.limits.redis``: Lua scripts) and in the ``rate_buckets`` table on the embedded
default (``shared.limits.sql``: compare-and-set UPDATEs). Nothing here sleeps: a denied caller is told how
many seconds to wait and reschedules its Celery task with that countdown.

``refill`` / ``take`` / ``penalize`` are hookline's one token bucket, as pure functions over ``BucketState``: the
SQL backend and the receiver's per-source limit on rejected callbacks call them; the Redis backend runs the same
steps in Lua, because there they must be one atomic script.

Bucket policy (one bucket per ``kind``, all with the same settings):
- Capacity ``burst`` (HOOKLINE_UPSTREAM_BURST, default ``max(1, rate)``), refilled at the effective rate; a new
  bucket starts full. With HOOKLINE_UPSTREAM_RATE unset there is no rate limit, only the 429 pauses below.
- ``penalize(retry_after)`` after a 429: no token is handed out until ``now + pause`` (pause = Retry-After, else
  DEFAULT_PAUSE, clipped to RETRY_AFTER_MAX); at the pause's end exactly one token (a probe) is available; the
  effective rate halves (never below ``rate * MIN_RATE_FACTOR``) and climbs back linearly by ``rate / 2`` every
  RECOVERY_SECONDS, starting at the pause's end. A 429 arriving while a pause is on (calls that were already in
  flight when the first 429 came) extends the pause but does not halve the rate again.

The in-flight cap (HOOKLINE_MAX_IN_FLIGHT) is not here: the admission step (``shared.admission``) counts jobs in
flight from the job rows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from shared.cometapi.retry import RETRY_AFTER_MAX
from shared.config import Settings

DEFAULT_PAUSE = 2.0  # seconds without tokens after a 429 that carries no Retry-After
RECOVERY_SECONDS = 30.0  # a halved rate is back to full this long after the pause ends
MIN_RATE_FACTOR = 1 / 16  # repeated 429s never slow the bucket below rate/16
MIN_WAIT = 0.001  # a denied caller always gets a positive wait: 0.0 means "admitted"

Clock = Callable[[], float]


@dataclass(frozen=True)
class BucketPolicy:
    rate: float | None  # calls per second across all workers; None: no rate limit (429 pauses still apply)
    burst: float
    recovery_seconds: float = RECOVERY_SECONDS

    @property
    def recovery_slope(self) -> float:
        """Calls/s regained per second after a penalty: a halved rate recovers in ``recovery_seconds``."""
        return (self.rate or 0.0) / (2 * self.recovery_seconds)

    def fresh(self, now: float) -> BucketState:
        return BucketState(tokens=self.burst, rate=self.rate or 0.0, updated_at=now, penalty_until=0.0)


@dataclass(frozen=True)
class BucketState:
    """One bucket as stored (a RateBucket row or a Redis hash); times are unix seconds."""

    tokens: float  # tokens at ``updated_at``
    rate: float  # effective rate at ``updated_at`` (below the configured rate while recovering from a 429)
    updated_at: float
    penalty_until: float  # no token before this


def refill(state: BucketState, policy: BucketPolicy, now: float) -> BucketState:
    """The bucket at ``now``: tokens gained since ``updated_at`` at a rate that climbs linearly back to full."""
    if policy.rate is None or now <= state.updated_at:
        return state
    base = policy.rate
    rate = base if state.rate <= 0 else min(state.rate, base)
    elapsed = now - state.updated_at
    slope = policy.recovery_slope
    if rate < base:
        ramp = (base - rate) / slope
        if elapsed <= ramp:
            new_rate = rate + slope * elapsed
            gained = elapsed * (rate + new_rate) / 2
        else:
            new_rate = base
            gained = ramp * (rate + base) / 2 + (elapsed - ramp) * base
    else:
        new_rate = base
        gained = elapsed * base
    return BucketState(min(policy.burst, state.tokens + gained), new_rate, now, state.penalty_until)


def take(state: BucketState, policy: BucketPolicy, now: float) -> tuple[float, BucketState | None]:
    """(0.0, state to store) when a token is taken; (seconds to wait, None) when not. None: nothing to store."""
    if now < state.penalty_until:
        return state.penalty_until - now, None
    if policy.rate is None:
        return 0.0, None
    current = refill(state, policy, now)
    if current.tokens >= 1.0:
        return 0.0, replace(current, tokens=current.tokens - 1.0)
    return max((1.0 - current.tokens) / current.rate, MIN_WAIT), None


def pause_for(retry_after: float | None) -> float:
    """Seconds without tokens after a 429: the upstream's Retry-After when it sent one, clipped to [0, max]."""
    if retry_after is None:
        return DEFAULT_PAUSE
    return min(max(retry_after, 0.0), RETRY_AFTER_MAX)


def penalize(state: BucketState, policy: BucketPolicy, now: float, retry_after: float | None) -> BucketState:
    """The bucket after a 429 at ``now`` (see the module docstring for the policy)."""
    until = now + pause_for(retry_after)
    if now < state.penalty_until:  # same wave of 429s: extend the pause, halve only once
        longest = max(state.penalty_until, until)
        return replace(state, penalty_until=longest, updated_at=max(state.updated_at, longest))
    current = refill(state, policy, now)
    rate = max(current.rate / 2, policy.rate * MIN_RATE_FACTOR) if policy.rate else 0.0
    # Refill (and the rate's recovery) starts when the pause ends, with one token for a probe call.
    return BucketState(tokens=min(1.0, policy.burst), rate=rate, updated_at=until, penalty_until=until)


class UpstreamLimiter(ABC):
    """The global limits as a worker sees them. Every method is atomic across processes and machines."""

    @abstractmethod
    def try_acquire(self, kind: str = "call") -> float:
        """Take one token: 0.0 when taken, else the seconds to wait before trying again (never sleeps)."""

    def try_acquire_in(self, connection: Any, kind: str = "call") -> float:
        """``try_acquire`` from inside the caller's open database transaction (the admission step's, which holds
        the write lock on SQLite): the SQL backend takes the token on that connection, so it never waits for a
        lock its own caller holds; the other backends ignore it."""
        return self.try_acquire(kind)

    @abstractmethod
    def penalize(self, retry_after: float | None, kind: str = "call") -> None:
        """After a 429: pause the bucket for Retry-After (or DEFAULT_PAUSE) and halve its rate for a while."""


class NoLimits(UpstreamLimiter):
    """Neither HOOKLINE_UPSTREAM_RATE nor HOOKLINE_MAX_IN_FLIGHT is set: everything is admitted, nothing stored."""

    def try_acquire(self, kind: str = "call") -> float:
        return 0.0

    def penalize(self, retry_after: float | None, kind: str = "call") -> None:
        return None


def policy_of(settings: Settings) -> BucketPolicy:
    rate = settings.upstream_rate
    burst = settings.upstream_burst or max(1.0, rate or 1.0)
    return BucketPolicy(rate=rate, burst=max(1.0, burst))  # below one token nothing would ever be admitted

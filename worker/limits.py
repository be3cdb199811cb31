"""The global upstream limiter (shared.upstream_limits) as the worker uses it."""

from __future__ import annotations

from shared.config import Settings
from shared.upstream_limits import limiter_for


def penalize(settings: Settings, retry_after: float | None) -> None:
    """After a 429: every worker slows down (the bucket pauses, then recovers)."""
    limiter_for(settings).penalize(retry_after)


def finish_in_flight(settings: Settings, job_id: str) -> None:
    """The job no longer holds one of the HOOKLINE_MAX_IN_FLIGHT slots."""
    limiter_for(settings).finish_task(job_id)

"""The global upstream limiter (shared.limits.base) as the worker uses it."""

from __future__ import annotations

from shared.config import Settings
from shared.limits import limiter_for


def penalize(settings: Settings, retry_after: float | None) -> None:
    """After a 429: every worker slows down (the bucket pauses, then recovers)."""
    limiter_for(settings).penalize(retry_after)

"""The global upstream limiter as the worker uses it (filled in by shared.upstream_limits when available)."""

from __future__ import annotations

from shared.config import Settings


def penalize(settings: Settings, retry_after: float | None) -> None:
    """After a 429: slow every worker down."""
    return None

"""The global upstream limiter (shared.limits.base) as the worker uses it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.bulk.progress import job_rate
from shared.config import Settings
from shared.limits import limiter_for
from shared.models import Job, Pipeline


def penalize(settings: Settings, retry_after: float | None) -> None:
    """After a 429: every worker slows down (the bucket pauses, then recovers)."""
    limiter_for(settings).penalize(retry_after)


def finish_in_flight(settings: Settings, job_id: str) -> None:
    """The job no longer holds one of the HOOKLINE_MAX_IN_FLIGHT slots."""
    limiter_for(settings).finish_task(job_id)


def bulk_rate_wait(session: Session, settings: Settings, job: Job) -> float:
    """`hookline bulk --rate N`: the batch's own submits/s cap, across all workers. 0.0 when the job may go now.

    It is a second token bucket (keyed by the batch) on the same global limiter backend, on top of
    HOOKLINE_UPSTREAM_RATE. Reads through the caller's session: no second load of the job.
    """
    if job.bulk_id is None and job.pipeline_id is None:
        return 0.0
    rate = job_rate(session, job)
    bulk_id = job.bulk_id or session.scalar(select(Pipeline.bulk_id).where(Pipeline.id == job.pipeline_id))
    if rate is None or bulk_id is None:
        return 0.0
    batch_limiter = limiter_for(settings.with_overrides(upstream_rate=rate, upstream_burst=1.0))
    return batch_limiter.try_acquire(kind=f"bulk:{bulk_id}")

"""What a bulk batch has come to: lines accepted, jobs and pipelines by state, money spent, finished or not."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shared.models import Attempt, BulkBatch, BulkLine, Job, Pipeline, RateBucket
from shared.states import IN_FLIGHT, TERMINAL, JobStatus, PipelineStatus

RATE_BUCKET_PREFIX = "bulk:"
PROGRESS_COLUMNS = ("queued", "running", "succeeded", "failed", "canceled")
JOB_BUCKETS: dict[str, str] = {  # job status -> progress column
    JobStatus.QUEUED: "queued", JobStatus.SUBMITTING: "queued",
    **dict.fromkeys(IN_FLIGHT, "running"),
    **{status: status.value for status in TERMINAL},
}
PIPELINE_BUCKETS: dict[str, str] = {status: status.value for status in PipelineStatus}  # status -> progress column


def rate_bucket_name(bulk_id: str) -> str:
    return RATE_BUCKET_PREFIX + bulk_id


def bulk_rate(session: Session, bulk_id: str) -> float | None:
    """The submits/s cap asked for this batch (``hookline bulk --rate``), for the global limiter; None: no cap."""
    bucket = session.get(RateBucket, rate_bucket_name(bulk_id))
    return bucket.rate if bucket is not None and bucket.rate > 0 else None


def job_rate(session: Session, job: Job) -> float | None:
    """The bulk rate cap that applies to ``job`` (through its batch, directly or through its pipeline)."""
    bulk_id = job.bulk_id
    if bulk_id is None and job.pipeline_id is not None:
        bulk_id = session.scalar(select(Pipeline.bulk_id).where(Pipeline.id == job.pipeline_id))
    return bulk_rate(session, bulk_id) if bulk_id else None


def bulk_cost(session: Session, bulk_id: str) -> float:
    pipelines = select(Pipeline.id).where(Pipeline.bulk_id == bulk_id).scalar_subquery()
    stmt = (select(func.coalesce(func.sum(Attempt.cost_usd), 0.0)).join(Job, Job.id == Attempt.job_id)
            .where(or_(Job.bulk_id == bulk_id, Job.pipeline_id.in_(pipelines))))
    return round(float(session.scalar(stmt) or 0.0), 6)


def bulk_progress(session: Session, bulk_id: str) -> dict[str, Any] | None:
    """The batch's progress JSON, or None when there is no such batch.

    ``finished``: the whole file was accepted (``accepted >= total``) and no job or pipeline of it is in flight."""
    batch = session.get(BulkBatch, bulk_id)
    if batch is None:
        return None
    accepted = int(session.scalar(select(func.count(BulkLine.id)).where(BulkLine.bulk_id == bulk_id)) or 0)
    counts = dict.fromkeys(PROGRESS_COLUMNS, 0)
    jobs = session.execute(select(Job.status, func.count(Job.id))
                           .where(Job.bulk_id == bulk_id, Job.pipeline_id.is_(None)).group_by(Job.status))
    for status, n in jobs:
        counts[JOB_BUCKETS.get(status, "running")] += int(n)
    pipelines = session.execute(select(Pipeline.status, func.count(Pipeline.id))
                                .where(Pipeline.bulk_id == bulk_id).group_by(Pipeline.status))
    for status, n in pipelines:
        counts[PIPELINE_BUCKETS.get(status, "running")] += int(n)
    in_flight = counts["queued"] + counts["running"]
    return {
        "id": batch.id,
        "name": batch.name,
        "total": batch.total,
        "accepted": accepted,
        **counts,
        "cost_usd": bulk_cost(session, bulk_id),
        "rate": bulk_rate(session, bulk_id),
        "callback_url": batch.callback_url,
        "finished": accepted > 0 and accepted >= batch.total and in_flight == 0,
        "finished_event_sent": batch.finished_event_sent,
        "created_at": batch.created_at.isoformat() if batch.created_at else None,
    }


def list_batches(session: Session, *, api_key_id: str | None = None, scoped: bool = False,
                 unfinished_only: bool = False, limit: int = 50) -> list[dict[str, Any]]:
    """Newest batches first (of one key when ``scoped``), as progress JSON."""
    stmt = select(BulkBatch.id).order_by(BulkBatch.created_at.desc(), BulkBatch.id.desc()).limit(limit)
    if scoped:
        stmt = stmt.where(BulkBatch.api_key_id.is_(None) if api_key_id is None else BulkBatch.api_key_id == api_key_id)
    if unfinished_only:
        stmt = stmt.where(BulkBatch.finished_event_sent.is_(False))
    return [p for bulk_id in session.scalars(stmt) if (p := bulk_progress(session, bulk_id)) is not None]

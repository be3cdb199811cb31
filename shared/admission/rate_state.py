"""The admission step's rate rows (``rate_buckets``), and when they go.

- ``tat:owner:<key>`` / ``tat:bulk:<batch>``: a GCRA theoretical arrival time, written by the step. Once it has
  passed, the row admits exactly as a missing one does (``max(tat, now)``): dropped.
- ``bulk:<batch>``: the batch's own rate (``hookline bulk --rate``, the HTTP bulk API's ``rate``), written when the
  batch opens (``shared.bulk.accept``). Dropped, with its ``tat:bulk:<batch>``, once the batch can send nothing
  more: its file fully accepted, no job of it waiting for admission (queued, not admitted), no pipeline of it still
  running (its later steps would be new jobs of the batch), or the batch itself gone (``hookline prune``).

This module is the one place that decides; the reconciler's sweep runs it (``admit(settings, prune=True)``) under
the admission lock, so no step reads a row while it goes. A batch whose row went reports ``rate: null``.
"""

from __future__ import annotations

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.orm import Session

from shared.models import BulkBatch, BulkLine, Job, Pipeline, RateBucket
from shared.states import JobStatus, PipelineStatus

BATCH_PREFIX = "bulk:"  # as shared.bulk.progress.rate_bucket_name writes it


def live_batches(session: Session, batch_ids: list[str]) -> set[str]:
    """The batches among ``batch_ids`` that may still admit a job: being accepted, a job waiting, or a pipeline
    running."""
    if not batch_ids:
        return set()
    waiting = exists().where(Job.bulk_id == BulkBatch.id, Job.status == JobStatus.QUEUED.value,
                             Job.admitted_at.is_(None))
    running = exists().where(Pipeline.bulk_id == BulkBatch.id, Pipeline.status == PipelineStatus.RUNNING.value)
    accepted = select(func.count(BulkLine.id)).where(BulkLine.bulk_id == BulkBatch.id).scalar_subquery()
    return set(session.scalars(select(BulkBatch.id).where(
        BulkBatch.id.in_(batch_ids), or_(waiting, running, accepted < BulkBatch.total))))


def prune_rate_state(session: Session, now: float) -> int:
    """Delete the spent ``tat:*`` rows and the rate rows of the batches that can send nothing more (see the module
    docstring); returns how many rows went. Call it holding the admission lock."""
    spent = delete(RateBucket).where(RateBucket.name.like("tat:%"), RateBucket.updated_at < now)
    count = int(session.execute(spent).rowcount)  # type: ignore[attr-defined]
    batch_ids = [name[len(BATCH_PREFIX):] for name in session.scalars(
        select(RateBucket.name).where(RateBucket.name.like(BATCH_PREFIX + "%")))]
    live = live_batches(session, batch_ids)
    done = [batch_id for batch_id in batch_ids if batch_id not in live]
    if done:
        names = [BATCH_PREFIX + b for b in done] + ["tat:" + BATCH_PREFIX + b for b in done]
        gone = delete(RateBucket).where(RateBucket.name.in_(names))
        count += int(session.execute(gone).rowcount)  # type: ignore[attr-defined]
    return count

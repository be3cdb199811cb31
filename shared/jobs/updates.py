"""Apply an upstream task snapshot (from a callback or a fetch) to a job: the one path both use.

Liberal in the shapes accepted, strict in what may change state: regressions and news about finished jobs
are recorded and ignored; only a compare-and-set transition moves a job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from shared.cometapi import REGISTRY, Finish, operation_named
from shared.cometapi.answers import clip_metadata, clip_rows, has_lyrics_text, lyrics_in
from shared.cometapi.operation_record import CLIPS
from shared.cometapi.operations import LYRICS, LYRICS_RESULT_KEY, MUSIC
from shared.config import Settings
from shared.models import Clip, Job, utcnow
from shared.states import RANK, CallbackVerdict, JobStatus, from_upstream, transition


@dataclass(frozen=True)
class UpdateOutcome:
    verdict: CallbackVerdict  # never REJECTED: that is the receiver's word for a callback refused before this
    reason: str
    status: JobStatus | None = None

    @property
    def changed(self) -> bool:
        return self.verdict is CallbackVerdict.APPLIED


def next_check_after_news(settings: Settings, operation: str = MUSIC) -> timedelta:
    """How long to wait for the next callback before the reconciler fetches the job itself.

    Jobs that get no callbacks (polling mode, or an operation that takes no notify_hook) are checked every sweep.
    """
    expects_callbacks = not settings.polling_mode and operation_named(operation).finish is Finish.CALLBACK
    return timedelta(seconds=settings.callback_grace if expects_callbacks else settings.reconcile_interval)


def store_clips(session: Session, job: Job, clips: list[dict[str, Any]]) -> None:
    existing = {c.clip_id: c for c in session.scalars(select(Clip).where(Clip.job_id == job.id))}
    for position, raw in enumerate(clips):
        meta = clip_metadata(raw)
        row = existing.get(str(raw["id"])) or Clip(job_id=job.id, clip_id=str(raw["id"]))
        row.position = position
        row.title = raw.get("title")
        row.status = raw.get("status")
        row.audio_url = raw.get("audio_url") or row.audio_url
        row.image_url = raw.get("image_url") or row.image_url
        row.image_large_url = raw.get("image_large_url") or row.image_large_url
        row.video_url = raw.get("video_url") or row.video_url
        duration = meta.get("duration")
        row.duration = float(duration) if isinstance(duration, (int, float)) else row.duration
        row.model_name = raw.get("model_name")
        row.meta = meta
        session.add(row)


def _yields(job: Job) -> str | None:
    """What the job's operation yields, as the registry says (nothing, for an operation no longer registered)."""
    operation = REGISTRY.get(job.operation)
    return operation.yields if operation is not None else None


def _result_fields(job: Job, task: dict[str, Any]) -> dict[str, Any]:
    lyrics = lyrics_in(task) if _yields(job) == LYRICS else None
    return {"result": {LYRICS_RESULT_KEY: lyrics}} if lyrics is not None else {}


def _is_complete_enough(job: Job, target: JobStatus, task: dict[str, Any]) -> bool:
    """A COMPLETE with no output yet is not trusted: the reconciler will fetch the job later."""
    if target is not JobStatus.SUCCEEDED:
        return True
    if _yields(job) == LYRICS:
        return has_lyrics_text(task)
    if _yields(job) == CLIPS:
        return bool(clip_rows(task))
    return True


def _carries_news(session: Session, job: Job, fields: dict[str, Any], clips: list[dict[str, Any]]) -> bool:
    if any(getattr(job, key) != value for key, value in fields.items() if key != "next_check_at"):
        return True
    known = {c.clip_id: (c.audio_url, c.duration, c.status) for c in
             session.scalars(select(Clip).where(Clip.job_id == job.id))}
    for raw in clips:
        meta = clip_metadata(raw)
        seen = known.get(str(raw["id"]))
        if seen is None or seen != (raw.get("audio_url") or seen[0], meta.get("duration", seen[1]), raw.get("status")):
            return True
    return False


def record_task_update(session: Session, job: Job, task: dict[str, Any], settings: Settings) -> UpdateOutcome:
    """Move ``job`` as far as ``task`` (an upstream task object) justifies. The caller commits."""
    upstream_status = task.get("status")
    target = from_upstream(upstream_status if isinstance(upstream_status, str) else None)
    if target is None:
        return UpdateOutcome(CallbackVerdict.INVALID, f"unknown upstream status {upstream_status!r}")
    current = JobStatus(job.status)
    if current.terminal:
        verdict = CallbackVerdict.DUPLICATE if current is target else CallbackVerdict.IGNORED
        return UpdateOutcome(verdict, f"job already {current.value}; {upstream_status} ignored", current)
    if RANK[target] < RANK[current]:
        return UpdateOutcome(CallbackVerdict.IGNORED, f"regression: {upstream_status} after {current.value}", current)
    if not _is_complete_enough(job, target, task):
        return UpdateOutcome(CallbackVerdict.IGNORED, f"{upstream_status} without output; will fetch", current)

    now = utcnow()
    fields: dict[str, Any] = {}
    progress = task.get("progress")
    if isinstance(progress, str):
        fields["progress"] = progress[:16]
    if not target.terminal:
        fields["next_check_at"] = now + next_check_after_news(settings, job.operation)
    if target is JobStatus.FAILED:
        fields["error"] = str(task.get("fail_reason") or "upstream reported FAILED")[:2000]
    fields.update(_result_fields(job, task))

    if target is current:
        # Same state again: a replay changes nothing. A STREAMING with more detail refreshes what it carries (no
        # transition), and only while the job is still in that state (a concurrent COMPLETE must not be undone).
        if not _carries_news(session, job, fields, clip_rows(task)):
            return UpdateOutcome(CallbackVerdict.DUPLICATE, f"already {current.value}; nothing new", current)
        refreshed = cast("CursorResult[Any]", session.execute(
            update(Job).where(Job.id == job.id, Job.status == current.value).values(updated_at=now, **fields)
            .execution_options(synchronize_session=False)
        )).rowcount
        session.refresh(job)
        if refreshed:
            store_clips(session, job, clip_rows(task))
        return UpdateOutcome(CallbackVerdict.DUPLICATE, f"already {current.value}; refreshed", current)

    if not transition(session, job.id, target, now=now, **fields):
        session.refresh(job)
        return UpdateOutcome(CallbackVerdict.IGNORED, f"raced: job is {job.status}", JobStatus(job.status))
    session.refresh(job)
    store_clips(session, job, clip_rows(task))
    return UpdateOutcome(CallbackVerdict.APPLIED, f"{current.value} -> {target.value}", target)

"""Apply an upstream task snapshot (from a callback or a fetch) to a job: the one path both use.

Liberal in the shapes accepted, strict in what may change state: regressions and news about finished jobs
are recorded and ignored; only a compare-and-set transition moves a job. A snapshot that changes no state changes
no data, with one exception: a STREAMING after STREAMING may bring news (more clips, their stream URLs, growing
durations), and then it is applied, and its verdict says so. The terminal report (COMPLETE or FAILED) replaces the
clip list: clips it does not name are removed. Every clip field is cleaned first (``clip_fields``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from shared.cometapi import REGISTRY, Finish, operation_named
from shared.cometapi.answers import clip_rows, has_lyrics_text, lyrics_in
from shared.cometapi.operation_record import CLIPS
from shared.cometapi.operations import LYRICS, LYRICS_RESULT_KEY, MUSIC
from shared.config import Settings
from shared.jobs.clip_fields import clean_text, clip_id_problem, clip_values, json_safe
from shared.models import Clip, Job, utcnow
from shared.states import RANK, CallbackVerdict, JobStatus, from_upstream, transition

# Kept from an earlier snapshot when a later intermediate one leaves them out; the terminal report overrides all.
KEPT_UNTIL_TERMINAL = frozenset({"audio_url", "image_url", "image_large_url", "video_url", "duration"})


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


def reported_clips(clips: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The snapshot's clips by id, in its order (the first of a repeated id wins), their fields cleaned."""
    reported: dict[str, dict[str, Any]] = {}
    for raw in clips:
        reported.setdefault(str(raw["id"]), clip_values(raw))
    return reported


def _next_values(row: Clip | None, values: dict[str, Any], replace: bool) -> dict[str, Any]:
    if replace or row is None:
        return values
    return {k: getattr(row, k) if v is None and k in KEPT_UNTIL_TERMINAL else v for k, v in values.items()}


def _stored(session: Session, job: Job) -> dict[str, Clip]:
    return {c.clip_id: c for c in session.scalars(select(Clip).where(Clip.job_id == job.id))}


def store_clips(session: Session, job: Job, clips: list[dict[str, Any]], *, replace: bool = False) -> None:
    """Write the snapshot's clips. ``replace`` (a terminal report): the job's clips become exactly these, with
    the report's own fields; otherwise they are merged into what an earlier snapshot stored."""
    existing = _stored(session, job)
    reported = reported_clips(clips)
    if replace:
        for clip_id, stale in existing.items():
            if clip_id not in reported:
                session.delete(stale)
    for position, (clip_id, values) in enumerate(reported.items()):
        row = existing.get(clip_id) or Clip(job_id=job.id, clip_id=clip_id)
        for key, value in _next_values(existing.get(clip_id), values, replace).items():
            setattr(row, key, value)
        row.position = position
        session.add(row)


def _clip_news(session: Session, job: Job, clips: list[dict[str, Any]]) -> int:
    """How many of the snapshot's clips are new, or would change a stored one when merged."""
    existing = _stored(session, job)
    news = 0
    for clip_id, values in reported_clips(clips).items():
        row = existing.get(clip_id)
        merged = _next_values(row, values, replace=False)
        news += row is None or any(getattr(row, k) != v for k, v in merged.items())
    return news


def _yields(job: Job) -> str | None:
    """What the job's operation yields, as the registry says (nothing, for an operation no longer registered)."""
    operation = REGISTRY.get(job.operation)
    return operation.yields if operation is not None else None


def _result_fields(job: Job, task: dict[str, Any]) -> dict[str, Any]:
    lyrics = lyrics_in(task) if _yields(job) == LYRICS else None
    return {"result": {LYRICS_RESULT_KEY: json_safe(lyrics)}} if lyrics is not None else {}


def _is_complete_enough(job: Job, target: JobStatus, task: dict[str, Any]) -> bool:
    """A COMPLETE with no output yet is not trusted: the reconciler will fetch the job later."""
    if target is not JobStatus.SUCCEEDED:
        return True
    if _yields(job) == LYRICS:
        return has_lyrics_text(task)
    if _yields(job) == CLIPS:
        return bool(clip_rows(task))
    return True


def _refresh_streaming(session: Session, job: Job, fields: dict[str, Any], clips: list[dict[str, Any]],
                       now: datetime) -> UpdateOutcome:
    """STREAMING again: applied (no transition) when it brings news, else a duplicate that writes nothing.

    Only while the job still streams (a concurrent COMPLETE must not be undone). The row is locked first
    (PostgreSQL; SQLite has one writer), so the news is judged against what is stored now.
    """
    streaming = JobStatus.STREAMING
    # Take the row (PostgreSQL) or the write lock (SQLite) with a compare-and-set that writes the same status: a
    # concurrent COMPLETE that committed first makes it match nothing, so a late refresh can never overwrite the
    # terminal report's clips. A plain SELECT ... FOR UPDATE locks nothing on SQLite.
    held = cast("CursorResult[Any]", session.execute(
        update(Job).where(Job.id == job.id, Job.status == streaming.value).values(status=streaming.value)
        .execution_options(synchronize_session=False)
    )).rowcount == 1
    session.refresh(job)
    if not held:
        return UpdateOutcome(CallbackVerdict.IGNORED, f"raced: job is {job.status}", JobStatus(job.status))
    news = [key for key, value in fields.items() if key != "next_check_at" and getattr(job, key) != value]
    clip_news = _clip_news(session, job, clips)
    if clip_news:
        news.append(f"{clip_news} clip(s)")
    if not news:
        return UpdateOutcome(CallbackVerdict.DUPLICATE, "already streaming; nothing new, nothing stored", streaming)
    session.execute(update(Job).where(Job.id == job.id).values(updated_at=now, **fields)
                    .execution_options(synchronize_session=False))
    session.refresh(job)
    store_clips(session, job, clips)
    return UpdateOutcome(CallbackVerdict.APPLIED, f"still streaming; refreshed {', '.join(news)}", streaming)


def _refused_snapshot(job: Job, reason: str) -> UpdateOutcome:
    """INVALID, and nothing of the snapshot stored (a clip id is never cut: cut ids could merge two clips). The
    reason is noted in an unfinished job's ``error``: a fetch (the reconciler) commits that note, so the refusal is
    on record; the receiver rolls back instead, answers 400 and records the callback as rejected with the reason."""
    if not JobStatus(job.status).terminal:
        job.error = reason[:2000]
    return UpdateOutcome(CallbackVerdict.INVALID, reason)


def record_task_update(session: Session, job: Job, task: dict[str, Any], settings: Settings) -> UpdateOutcome:
    """Move ``job`` as far as ``task`` (an upstream task object) justifies. The caller commits."""
    upstream_status = task.get("status")
    target = from_upstream(upstream_status if isinstance(upstream_status, str) else None)
    if target is None:
        return UpdateOutcome(CallbackVerdict.INVALID, f"unknown upstream status {upstream_status!r}")
    problem = clip_id_problem(clip_rows(task))
    if problem is not None:
        return _refused_snapshot(job, f"snapshot refused: {problem}")
    current = JobStatus(job.status)
    if current.terminal:
        verdict = CallbackVerdict.DUPLICATE if current is target else CallbackVerdict.IGNORED
        return UpdateOutcome(verdict, f"job already {current.value}; {upstream_status} ignored", current)
    if RANK[target] < RANK[current]:
        return UpdateOutcome(CallbackVerdict.IGNORED, f"regression: {upstream_status} after {current.value}", current)
    if target is current and current is not JobStatus.STREAMING:
        # Same state again: whatever it carries, it changes nothing (a clip before the music streams is not news).
        return UpdateOutcome(CallbackVerdict.DUPLICATE,
                             f"already {current.value}; {upstream_status} changes nothing, nothing stored", current)
    if not _is_complete_enough(job, target, task):
        return UpdateOutcome(CallbackVerdict.IGNORED, f"{upstream_status} without output; will fetch", current)

    now = utcnow()
    fields: dict[str, Any] = {}
    progress = clean_text(task.get("progress"), 16)
    if progress is not None:
        fields["progress"] = progress
    if not target.terminal:
        fields["next_check_at"] = now + next_check_after_news(settings, job.operation)
    if target is JobStatus.FAILED:
        fields["error"] = (clean_text(str(task.get("fail_reason") or "")) or "upstream reported FAILED")[:2000]
    fields.update(_result_fields(job, task))

    if target is current:
        return _refresh_streaming(session, job, fields, clip_rows(task), now)
    if not transition(session, job.id, target, now=now, **fields):
        session.refresh(job)
        return UpdateOutcome(CallbackVerdict.IGNORED, f"raced: job is {job.status}", JobStatus(job.status))
    session.refresh(job)
    store_clips(session, job, clip_rows(task), replace=target.terminal)
    return UpdateOutcome(CallbackVerdict.APPLIED, f"{current.value} -> {target.value}", target)

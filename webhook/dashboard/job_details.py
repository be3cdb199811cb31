"""What the job page shows, assembled from rows: redacted params, the state timeline, media, timing words, lyrics."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.artifact_store import StoreError, open_store
from shared.cometapi import REGISTRY
from shared.cometapi.operation_record import AUDIO
from shared.cometapi.operations import LYRICS_RESULT_KEY, export_artifacts
from shared.config import Settings
from shared.jobs.artifacts import stored_key
from shared.models import Artifact, Attempt, CallbackRecord, Clip, Job
from shared.redaction import redact_secrets
from shared.states import AttemptOutcome, CallbackVerdict, JobStatus

# The clips' audio, and the exports whose file is audio.
AUDIO_KINDS = frozenset({"audio", *(artifact.kind for artifact in export_artifacts() if artifact.media == AUDIO)})
# The exports that hold the aligned lyric words; "json" is a plain JSON file that may hold them too.
WORD_KINDS = frozenset({"json", *(artifact.kind for artifact in export_artifacts() if artifact.shows_words)})
MAX_TIMING_FILE = 2 * 1024 * 1024
# How the timeline colours an attempt: the calls that went through, and those that failed for good.
ATTEMPT_OK = frozenset({AttemptOutcome.ACCEPTED, AttemptOutcome.OK})
ATTEMPT_BAD = frozenset({AttemptOutcome.REJECTED, AttemptOutcome.ERROR})


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    kind: str  # job | attempt | callback
    title: str
    detail: str = ""
    tone: str = ""  # ok | bad | muted, for the colour


def submitted_detail(job: Job) -> str:
    """What the submit started: the upstream task, or (exports and other calls answered without a task id) what
    was asked, never "upstream task None"."""
    if job.upstream_task_id:
        return f"upstream task {job.upstream_task_id}"
    record = REGISTRY.get(job.operation)
    if record is not None and record.artifact is not None:
        return "export requested"
    return "request sent (the upstream answers this one without a task id)"


def timeline(job: Job, attempts: list[Attempt], callbacks: list[CallbackRecord]) -> list[TimelineEvent]:
    events = [TimelineEvent(job.created_at, "job", "created", f"{job.operation}, status queued")]
    events += [TimelineEvent(job.created_at, "job", "warning", text, "muted") for text in job.warnings or []]
    for a in attempts:
        cost = f", ${a.cost_usd:.3f}" if a.cost_usd else ""
        http = f"HTTP {a.http_status}" if a.http_status is not None else "no HTTP answer"
        tone = "ok" if a.outcome in ATTEMPT_OK else "bad" if a.outcome in ATTEMPT_BAD else ""
        label = f"attempt {a.attempt_no}" if a.attempt_no else "call"
        events.append(TimelineEvent(a.started_at, "attempt", f"{label}: {a.endpoint} → {a.outcome}",
                                    f"{http}{cost}" + (f" — {a.error}" if a.error else ""), tone))
    for c in callbacks:
        tone = ("ok" if c.verdict == CallbackVerdict.APPLIED
                else "bad" if c.verdict == CallbackVerdict.REJECTED else "muted")
        title = f"callback {c.upstream_status or ''}: {c.verdict}".strip()
        events.append(TimelineEvent(c.received_at, "callback", title, f"{c.reason or ''} (answered {c.http_status})",
                                    tone))
    if job.submitted_at:
        events.append(TimelineEvent(job.submitted_at, "job", "submitted", submitted_detail(job)))
    if job.finished_at:
        tone = "ok" if job.status == JobStatus.SUCCEEDED else "bad"
        events.append(TimelineEvent(job.finished_at, "job", job.status, job.error or "", tone))
    return sorted(events, key=lambda e: e.at)


def is_stored(artifact: Artifact) -> bool:
    """Recorded as stored with a key (the page trusts the row; the file route asks the store)."""
    return artifact.status == "stored" and bool(artifact.storage_key or artifact.path)


def is_audio(artifact: Artifact) -> bool:
    return artifact.kind in AUDIO_KINDS or (artifact.content_type or "").startswith("audio/")


@dataclass
class ClipCard:
    clip: Clip
    audio_src: str | None
    audio_stored: bool
    cover_src: str | None


@dataclass
class JobDetails:
    job: Job
    params: Any
    attempts: list[Attempt]
    events: list[TimelineEvent]
    artifacts: list[Artifact]
    clip_cards: list[ClipCard]
    loose_audio: list[Artifact]  # audio artifacts not shown in a clip card (stems, wav exports, ...)
    timing_words: list[dict[str, Any]] = field(default_factory=list)
    lyrics: str | None = None
    lyrics_title: str | None = None
    total_cost: float = 0.0


def _artifact_url(artifact: Artifact) -> str:
    """The API's download route, which takes the dashboard session too (same ranges, ETag and redirect)."""
    return url_for("api.jobs.read_artifact", job_id=artifact.job_id, artifact_id=artifact.id)


def _clip_cards(clips: list[Clip], stored: list[Artifact]) -> tuple[list[ClipCard], set[int]]:
    used: set[int] = set()
    cards = []
    for clip in clips:
        audio = next((a for a in stored if a.clip_id == clip.clip_id and a.kind == "audio"), None)
        cover = next((a for a in stored if a.clip_id == clip.clip_id and a.kind == "image"), None)
        used.update(a.id for a in (audio, cover) if a is not None)
        cards.append(ClipCard(clip, _artifact_url(audio) if audio else clip.audio_url or None, audio is not None,
                              _artifact_url(cover) if cover else clip.image_url or None))
    return cards, used


def find_timing_words(value: Any, depth: int = 0) -> list[dict[str, Any]]:
    """The first list of {word, start, end} objects anywhere in ``value`` (Suno's aligned words, or close)."""
    if depth > 6:
        return []
    if isinstance(value, list) and value and all(isinstance(v, dict) and "word" in v for v in value):
        words = []
        for v in value:
            start = v.get("start_s", v.get("start"))
            end = v.get("end_s", v.get("end"))
            words.append({"word": str(v["word"]), "start": start if isinstance(start, (int, float)) else None,
                          "end": end if isinstance(end, (int, float)) else None})
        return words
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    for child in children:
        found = find_timing_words(child, depth + 1)
        if found:
            return found
    return []


def _timing_from_files(settings: Settings, artifacts: list[Artifact]) -> list[dict[str, Any]]:
    store = open_store(settings)
    for artifact in artifacts:
        key = stored_key(artifact, store)
        if artifact.kind not in WORD_KINDS or key is None:
            continue
        try:
            data = store.read_all(key, MAX_TIMING_FILE)
            words = find_timing_words(json.loads(data)) if data is not None else []
        except (ValueError, OSError, StoreError):
            continue
        if words:
            return words
    return []


def _lyrics(job: Job, clips: list[Clip]) -> tuple[str | None, str | None]:
    result = job.result or {}
    lyrics = result.get(LYRICS_RESULT_KEY)
    if isinstance(lyrics, dict) and lyrics.get("text"):
        return str(lyrics["text"]), lyrics.get("title")
    for clip in clips:
        prompt = (clip.meta or {}).get("prompt")
        if isinstance(prompt, str) and prompt.strip():
            return prompt, clip.title
    prompt = (job.params or {}).get("prompt")
    return (prompt, (job.params or {}).get("title")) if isinstance(prompt, str) and prompt.strip() else (None, None)


def job_details(session: Session, settings: Settings, job: Job) -> JobDetails:
    attempts = list(session.scalars(select(Attempt).where(Attempt.job_id == job.id).order_by(Attempt.id)))
    callbacks = list(session.scalars(
        select(CallbackRecord).where(CallbackRecord.job_id == job.id).order_by(CallbackRecord.id)))
    artifacts = list(session.scalars(select(Artifact).where(Artifact.job_id == job.id).order_by(Artifact.id)))
    stored = [a for a in artifacts if is_stored(a)]
    clips = list(job.clips)
    cards, used = _clip_cards(clips, stored)
    loose_audio = [a for a in stored if is_audio(a) and a.id not in used]
    lyrics, title = _lyrics(job, clips)
    words = find_timing_words(job.result or {}) or _timing_from_files(settings, stored)
    return JobDetails(job=job, params=redact_secrets(job.params or {}), attempts=attempts,
                      events=timeline(job, attempts, callbacks), artifacts=artifacts, clip_cards=cards,
                      loose_audio=loose_audio, timing_words=words, lyrics=lyrics, lyrics_title=title,
                      total_cost=sum(a.cost_usd or 0 for a in attempts))

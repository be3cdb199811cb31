"""Turn a validated submission into a TaskRecord: its clips (or lyrics) and its planned state changes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from .clip_factory import make_clip
from .fault_plan import FAIL_REASONS, FaultPlan
from .lyrics_writer import write_lyrics, write_tags, write_title
from .music_modes import MusicOrder
from .stem_clips import stem_clips
from .suno_models import MODELS
from .task_records import (
    COMPLETE,
    FAILED,
    IN_PROGRESS,
    LYRICS,
    MUSIC,
    STREAMING,
    TERMINAL_STATUSES,
    ClipRecord,
    LyricsSheet,
    PlannedStep,
    TaskRecord,
)

# The second clip of a task runs a little longer, so that picking the 'longest' clip means something.
SECOND_CLIP_EXTRA_SECONDS = 1.5
# Modes whose new clips continue or rework an earlier clip (kept for a later concat).
DERIVED_MODES = ("extend", "upload_extend", "underpainting", "overpainting", "infill")


@dataclass(frozen=True)
class Submission:
    """What every new task needs besides its order: who to call back, where media lives, and the clock."""

    request: dict[str, Any]
    notify_hook: str
    media_base_url: str
    now: float
    step_seconds: float
    clip_seconds: float


def new_task_id() -> str:
    return str(uuid.uuid4())


def plan_state_changes(action: str, submission: Submission, faults: FaultPlan) -> tuple[list[PlannedStep], str]:
    """NOT_START → IN_PROGRESS → STREAMING → COMPLETE, one STEP_SECONDS apart; lyrics skip STREAMING.

    fail_rate swaps a later step for FAILED; slow_seconds lengthens the last step."""
    statuses = [IN_PROGRESS, COMPLETE] if action == LYRICS else [IN_PROGRESS, STREAMING, COMPLETE]
    fail_reason = ""
    if faults.roll("fail_rate"):
        cut = int(faults.choose(list(range(1, len(statuses)))))
        statuses = statuses[:cut] + [FAILED]
        fail_reason = str(faults.choose(FAIL_REASONS))
    slow = faults.value("slow_seconds")
    due = submission.now
    steps = []
    for status in statuses:
        due += submission.step_seconds + (slow if status in TERMINAL_STATUSES else 0.0)
        steps.append(PlannedStep(status, due))
    return steps, fail_reason


def assemble_task(
    task_id: str,
    action: str,
    mode: str,
    submission: Submission,
    faults: FaultPlan,
    *,
    clips: list[ClipRecord] | None = None,
    lyrics: LyricsSheet | None = None,
) -> TaskRecord:
    plan, fail_reason = plan_state_changes(action, submission, faults)
    return TaskRecord(
        task_id=task_id,
        action=action,
        mode=mode,
        request=submission.request,
        notify_hook=submission.notify_hook,
        media_base_url=submission.media_base_url,
        submit_time=submission.now,
        plan=plan,
        clips=clips or [],
        lyrics=lyrics,
        fail_reason_planned=fail_reason,
    )


def _clip_text(order: MusicOrder, source: ClipRecord | None, task_id: str) -> tuple[str, str, str]:
    """(title, tags, prompt) the clips carry: as given, written from the topic, or inherited from the source."""
    if order.mode == "inspiration":
        topic = order.gpt_description_prompt or ""
        lyrics = "" if order.make_instrumental else write_lyrics(topic, task_id)
        return write_title(topic, task_id), order.tags or write_tags(topic, task_id), lyrics
    title = order.title if order.title is not None else (source.title if source else "Untitled")
    tags = order.tags if order.tags is not None else (source.tags if source else "")
    prompt = order.prompt if order.prompt is not None else (source.prompt if source else "")
    return title, tags, prompt


def music_clip_seconds(order: MusicOrder, submission: Submission, index: int) -> float:
    """Repainting and infill: the range's length (end_s - start_s), for both clips. Otherwise CLIP_SECONDS,
    and the second clip SECOND_CLIP_EXTRA_SECONDS longer."""
    if order.edit_range is not None:
        start, end = order.edit_range
        return round(end - start, 2)
    return round(submission.clip_seconds + index * SECOND_CLIP_EXTRA_SECONDS, 2)


def build_music_task(
    order: MusicOrder, submission: Submission, faults: FaultPlan, source: ClipRecord | None
) -> TaskRecord:
    task_id = new_task_id()
    if order.mode == "gen_stem" and source is not None and order.stem_task:
        clips = stem_clips(
            source,
            task_id,
            order.mode,
            stem_task=order.stem_task,
            stem_type_group_name=order.stem_type_group_name,
            stem_type_id=order.stem_type_id,
        )
        return assemble_task(task_id, MUSIC, order.mode, submission, faults, clips=clips)
    title, tags, prompt = _clip_text(order, source, task_id)
    model = MODELS[order.mv]
    derived = order.mode in DERIVED_MODES
    clips = [
        make_clip(
            task_id,
            index,
            title=title,
            tags=tags,
            prompt=prompt,
            gpt_description_prompt=order.gpt_description_prompt,
            model_name=model.name,
            major_model_version=model.major_version,
            duration=music_clip_seconds(order, submission, index),
            mode=order.mode,
            parent_clip_id=order.source_clip_id if derived else None,
            continue_at=order.continue_at,
            edit_range=order.edit_range,
        )
        for index in range(2)
    ]
    return assemble_task(task_id, MUSIC, order.mode, submission, faults, clips=clips)


def build_lyrics_task(topic: str, submission: Submission, faults: FaultPlan) -> TaskRecord:
    task_id = new_task_id()
    lyrics = LyricsSheet(title=write_title(topic, task_id), text=write_lyrics(topic, task_id))
    return assemble_task(task_id, LYRICS, "lyrics", submission, faults, lyrics=lyrics)

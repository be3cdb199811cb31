"""Turn a validated submission into a TaskRecord: its clips (or lyrics) and its planned state changes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from .fault_plan import FAIL_REASONS, FaultPlan
from .lyrics_writer import write_lyrics, write_tags, write_title
from .music_modes import MusicOrder
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


def plan_state_changes(action: str, submission: Submission, faults: FaultPlan) -> tuple[list[PlannedStep], str]:
    """NOT_START → IN_PROGRESS → STREAMING → COMPLETE, one STEP_SECONDS apart; lyrics skip STREAMING.

    fail_rate swaps a later step for FAILED; slow_seconds lengthens the last step."""
    statuses = [IN_PROGRESS, STREAMING, COMPLETE] if action == MUSIC else [IN_PROGRESS, COMPLETE]
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


def build_music_task(
    order: MusicOrder, submission: Submission, faults: FaultPlan, source: ClipRecord | None
) -> TaskRecord:
    task_id = str(uuid.uuid4())
    plan, fail_reason = plan_state_changes(MUSIC, submission, faults)
    title, tags, prompt = _clip_text(order, source, task_id)
    model = MODELS[order.mv]
    derived = order.mode in DERIVED_MODES
    clips = [
        ClipRecord(
            clip_id=str(uuid.uuid4()),
            task_id=task_id,
            index=index,
            title=title,
            tags=tags,
            prompt=prompt,
            gpt_description_prompt=order.gpt_description_prompt,
            model_name=model.name,
            major_model_version=model.major_version,
            duration=round(submission.clip_seconds + index * SECOND_CLIP_EXTRA_SECONDS, 2),
            mode=order.mode,
            parent_clip_id=order.source_clip_id if derived else None,
            continue_at=order.continue_at,
            edit_range=order.edit_range,
        )
        for index in range(2)
    ]
    return TaskRecord(
        task_id=task_id,
        action=MUSIC,
        mode=order.mode,
        request=submission.request,
        notify_hook=submission.notify_hook,
        media_base_url=submission.media_base_url,
        submit_time=submission.now,
        plan=plan,
        clips=clips,
        fail_reason_planned=fail_reason,
    )


def build_lyrics_task(topic: str, submission: Submission, faults: FaultPlan) -> TaskRecord:
    task_id = str(uuid.uuid4())
    plan, fail_reason = plan_state_changes(LYRICS, submission, faults)
    return TaskRecord(
        task_id=task_id,
        action=LYRICS,
        mode="lyrics",
        request=submission.request,
        notify_hook=submission.notify_hook,
        media_base_url=submission.media_base_url,
        submit_time=submission.now,
        plan=plan,
        lyrics=LyricsSheet(title=write_title(topic, task_id), text=write_lyrics(topic, task_id)),
        fail_reason_planned=fail_reason,
    )

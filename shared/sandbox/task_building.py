"""Turn a validated submission into a TaskRecord: its clips (or lyrics) and its planned state changes.

Also the song text a generated task carries: plausible, deterministic lyrics with [Verse]/[Chorus] markers,
a title and style tags, written from a topic. The tasks made from existing audio (upload, concat, separation)
are built in ``clip_tasks``, a Udio generation in ``udio``.
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass
from typing import Any

from .faults import FAIL_REASONS, FaultPlan
from .music_modes import MusicOrder
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
    make_clip,
    stem_clips,
)
from .validation import MODELS

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


# --- song text -------------------------------------------------------------------------------------------------

_STOP_WORDS_TEXT = (
    "a an and the of to in on for with about from by at is are be song songs music track some my your our "
    "make write please that this it its me i you we they verse chorus bridge"
)
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

VERSE_LINES = (
    "Walking through the {a} at the break of day",
    "Every little {a} has a word to say",
    "I carried the {a} a thousand miles",
    "Counting all the {b} between the smiles",
    "Underneath the {a} the city hums",
    "Waiting for the {b} until it comes",
    "Paper boats of {a} drifting down the street",
    "Holding on to {b} in the summer heat",
    "There's a quiet {a} where the rivers bend",
    "Every {b} is a letter to a friend",
)
CHORUS_LINES = (
    "Oh {A}, don't you let me go",
    "Sing it loud, {b}, so the whole world knows",
    "We were born for {a}, we were born to glow",
    "{A}, {A}, take me home",
    "Hold the {b} and never walk alone",
)
GENRES = ("indie pop", "synthwave", "folk rock", "lo-fi hip hop", "dream pop", "funk", "alt country", "electro swing")
MOODS = ("uplifting", "melancholic", "energetic", "dreamy", "warm", "driving", "playful", "nostalgic")
INSTRUMENTS = ("acoustic guitar", "analog synth", "piano", "brass section", "808 drums", "strings", "electric bass")
FALLBACK_WORDS = ("light", "river", "heart", "summer", "road", "night", "rain")


def theme_words(topic: str) -> list[str]:
    words = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z']+", topic)]
    chosen = [w for w in words if w not in STOP_WORDS]
    return chosen or list(FALLBACK_WORDS[:2])


def _line(rng: random.Random, template: str, words: list[str]) -> str:
    a = rng.choice(words)
    b = rng.choice(words + list(FALLBACK_WORDS))
    return template.format(a=a, b=b, A=a.capitalize())


def write_lyrics(topic: str, seed: str) -> str:
    rng = random.Random(f"lyrics:{seed}:{topic}")
    words = theme_words(topic)
    verse_1 = [_line(rng, t, words) for t in rng.sample(VERSE_LINES, 4)]
    verse_2 = [_line(rng, t, words) for t in rng.sample(VERSE_LINES, 4)]
    chorus = [_line(rng, t, words) for t in rng.sample(CHORUS_LINES, 4)]
    sections = [("[Verse]", verse_1), ("[Chorus]", chorus), ("[Verse 2]", verse_2), ("[Chorus]", chorus)]
    return "\n\n".join(marker + "\n" + "\n".join(lines) for marker, lines in sections)


def write_title(topic: str, seed: str) -> str:
    rng = random.Random(f"title:{seed}:{topic}")
    words = theme_words(topic)[:3]
    pattern = rng.choice(("{w}", "Songs of {w}", "{w} Tonight", "The {w} Road", "Chasing {w}"))
    return pattern.format(w=" ".join(word.capitalize() for word in words))


def write_tags(topic: str, seed: str) -> str:
    rng = random.Random(f"tags:{seed}:{topic}")
    return f"{rng.choice(MOODS)} {rng.choice(GENRES)}, {rng.choice(INSTRUMENTS)}"

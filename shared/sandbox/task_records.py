"""The sandbox's internal records of tasks, clips and personas, and how a new clip (or a set of stems) is made.

Clients never see these records as they are: ``public_shapes`` renders them in the upstream's JSON shapes.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from .audio_recipe import Recipe, fresh_recipe
from .validation import STEM_SETS

NOT_START = "NOT_START"
IN_PROGRESS = "IN_PROGRESS"
STREAMING = "STREAMING"
COMPLETE = "COMPLETE"
FAILED = "FAILED"
TERMINAL_STATUSES = (COMPLETE, FAILED)

# What `progress` reads in each status (the docs show "0%" at NOT_START and "100%" at the end).
PROGRESS: dict[str, str] = {NOT_START: "0%", IN_PROGRESS: "20%", STREAMING: "60%", COMPLETE: "100%", FAILED: "100%"}

MUSIC = "MUSIC"
LYRICS = "LYRICS"
UDIO = "UDIO"  # a Udio generation: served by /udio/query only, never by /suno/fetch
SUNO_ACTIONS = (MUSIC, LYRICS)


@dataclass(frozen=True)
class StemOrigin:
    """Where a stem clip came from, as Suno's stem clips report it in metadata."""

    stem_from_id: str
    stem_name: str  # "Vocals", "Instrumental", "Drums", …
    stem_task: str  # "two" or "twelve"
    stem_type_group_name: str  # "Two" or "Twelve"
    stem_type_id: int | None


@dataclass
class ClipRecord:
    clip_id: str
    task_id: str
    index: int  # 0 or 1: a music task yields two clips
    title: str
    tags: str
    prompt: str
    gpt_description_prompt: str | None
    model_name: str
    major_model_version: str
    duration: float  # decided at submit, revealed in metadata.duration only once COMPLETE
    mode: str
    parent_clip_id: str | None = None  # the clip this one extends/repaints/infills (for a later concat)
    continue_at: float | None = None
    edit_range: tuple[float, float] | None = None
    kind: str = "gen"  # metadata.type: gen, upload, concat or gen_stem
    recipe: Recipe = ()  # what its audio is made of (audio_recipe); its length is `duration`
    stem: StemOrigin | None = None


@dataclass
class LyricsSheet:
    title: str
    text: str


@dataclass
class PlannedStep:
    status: str
    due: float  # unix time


@dataclass
class TaskRecord:
    task_id: str
    action: str  # MUSIC, LYRICS or UDIO
    mode: str
    request: dict[str, Any]
    notify_hook: str
    media_base_url: str  # e.g. "http://127.0.0.1:5000/", from the submitting request
    submit_time: float
    plan: list[PlannedStep]  # the state changes still to come, in order
    clips: list[ClipRecord] = field(default_factory=list)
    lyrics: LyricsSheet | None = None
    fail_reason_planned: str = ""
    status: str = NOT_START
    start_time: float = 0.0
    finish_time: float = 0.0
    fail_reason: str = ""
    ambiguous: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def apply_step(self, step: PlannedStep, now: float) -> None:
        """Move to the planned status; stamp start/finish times the way the upstream does."""
        self.status = step.status
        if step.status == IN_PROGRESS and not self.start_time:
            self.start_time = now
        if step.status in TERMINAL_STATUSES:
            self.finish_time = now
        if step.status == FAILED:
            self.fail_reason = self.fail_reason_planned or "generation failed"
        self.history.append({"status": step.status, "time": now})

    def internal_view(self) -> dict[str, Any]:
        """Everything the sandbox knows, for GET /_sandbox/tasks/<id>; never sent to a client."""
        view = asdict(self)
        view["plan"] = [asdict(step) for step in self.plan]
        return view


@dataclass(frozen=True)
class PersonaRecord:
    """A persona made with /suno/persona/create, kept for artist_consistency to look up."""

    persona_id: str
    name: str
    description: str
    root_clip_id: str
    root_model_name: str  # artist_consistency accepts the persona only if this is chirp-auk
    clip_ids: tuple[str, ...]
    is_public: bool
    created: float


# --- making new clips ------------------------------------------------------------------------------------------

def make_clip(
    task_id: str,
    index: int,
    *,
    title: str,
    tags: str,
    prompt: str,
    model_name: str,
    major_model_version: str,
    duration: float,
    mode: str,
    gpt_description_prompt: str | None = None,
    kind: str = "gen",
    recipe: Recipe | None = None,
    parent_clip_id: str | None = None,
    continue_at: float | None = None,
    edit_range: tuple[float, float] | None = None,
    stem: StemOrigin | None = None,
) -> ClipRecord:
    clip_id = str(uuid.uuid4())
    return ClipRecord(
        clip_id=clip_id,
        task_id=task_id,
        index=index,
        title=title,
        tags=tags,
        prompt=prompt,
        gpt_description_prompt=gpt_description_prompt,
        model_name=model_name,
        major_model_version=major_model_version,
        duration=duration,
        mode=mode,
        parent_clip_id=parent_clip_id,
        continue_at=continue_at,
        edit_range=edit_range,
        kind=kind,
        recipe=recipe if recipe is not None else fresh_recipe(clip_id, duration),
        stem=stem,
    )


# The stem clips of a source clip, for task=gen_stem and for the separation endpoints. Each stem lasts as long
# as its source. Its audio is a tune of its own (the sandbox does no real separation); vocal stems keep the
# source's lyrics in metadata.prompt, the others have none.
STEM_MODEL_NAME = "chirp-stem"  # what the docs' stem page shows stem clips reporting
DEFAULT_STEM_TYPE_ID = 91  # the id the stem page sends with stem_task "two"
VOCAL_STEMS = ("Vocals", "Backing Vocals")


def stem_clips(
    source: ClipRecord,
    task_id: str,
    mode: str,
    *,
    stem_task: str,
    stem_type_group_name: str | None = None,
    stem_type_id: int | None = DEFAULT_STEM_TYPE_ID,
) -> list[ClipRecord]:
    group = stem_type_group_name or stem_task.capitalize()
    return [
        make_clip(
            task_id,
            index,
            title=f"{source.title} ({name})",
            tags=source.tags,
            prompt=source.prompt if name in VOCAL_STEMS else "",
            model_name=STEM_MODEL_NAME,
            major_model_version=source.major_model_version,
            duration=source.duration,
            mode=mode,
            kind="gen_stem",
            parent_clip_id=source.clip_id,
            stem=StemOrigin(source.clip_id, name, stem_task, group, stem_type_id),
        )
        for index, name in enumerate(STEM_SETS[stem_task])
    ]

"""The sandbox's internal record of a task and its clips; the public shapes are rendered in task_shapes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .audio_recipe import Recipe

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
    action: str  # MUSIC or LYRICS
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

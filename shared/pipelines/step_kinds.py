"""What each spec ``op`` means: the hookline operation, fixed and default params, and what it binds from its source.

The one table is ``STEP_KINDS``. A step with ``from: X`` gets the fields in ``binds`` filled from X's output;
``persona: P`` fills ``persona_id`` from persona step P. Explicit params always win (see ``bindings``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Where a bound value comes from. From the `from` source: a clip, its id list, the source job's task, its lyrics,
# its model version. From the `persona` reference: the persona id.
CLIP_ID = "clip_id"
CLIP_ID_LIST = "clip_id_list"
TASK_ID = "task_id"
SOURCE_MV = "source_mv"  # bound only when the source job sent an mv: an extension keeps its song's model
LYRICS_TEXT = "lyrics_text"
LYRICS_TITLE = "lyrics_title"
PERSONA_ID = "persona_id"

# What a step's jobs yield for others to take.
CLIPS = "clips"
LYRICS = "lyrics"
PERSONA = "persona"

# A clip's duration is rounded upstream; allow for that when checking a time against it.
DURATION_TOLERANCE = 0.01


@dataclass(frozen=True)
class StepKind:
    """What a spec ``op`` means: the hookline operation, its fixed and default params, and what it binds."""

    name: str
    operation: str
    preset: Mapping[str, Any] = field(default_factory=dict)  # fixed (task=extend); an explicit other value is an error
    defaults: Mapping[str, Any] = field(default_factory=dict)  # used unless given
    takes: str | None = None  # CLIPS | LYRICS: what a `from` source must yield; None: takes no `from`
    binds: Mapping[str, str] = field(default_factory=dict)  # param -> value source
    time_fields: tuple[str, ...] = ()  # seconds into the picked clip: checked against its duration
    yields: str | None = None  # CLIPS | LYRICS | PERSONA | None

    @property
    def takes_persona(self) -> bool:
        return PERSONA_ID in self.binds.values()


def _music(name: str, task: str, binds: Mapping[str, str], time_fields: tuple[str, ...] = ()) -> StepKind:
    return StepKind(name, "music", preset={"task": task}, takes=CLIPS, binds=binds, time_fields=time_fields,
                    yields=CLIPS)


def _clip_input(name: str, param: str = "clip_id", **kw: Any) -> StepKind:
    return StepKind(name, name, takes=CLIPS, binds={param: CLIP_ID}, **kw)


_CONTINUATION = {"task_id": TASK_ID, "continue_clip_id": CLIP_ID, "mv": SOURCE_MV}
_GENERATE = {"prompt": LYRICS_TEXT, "title": LYRICS_TITLE}

_KINDS: tuple[StepKind, ...] = (
    StepKind("generate", "music", takes=LYRICS, binds=_GENERATE, yields=CLIPS),
    StepKind("music", "music", takes=LYRICS, binds=_GENERATE, yields=CLIPS),
    _music("extend", "extend", _CONTINUATION, ("continue_at",)),
    _music("infill", "infill", _CONTINUATION, ("infill_start_s", "infill_end_s")),
    _music("gen_stem", "gen_stem", _CONTINUATION),
    _music("upload_extend", "upload_extend", {"continue_clip_id": CLIP_ID}, ("continue_at",)),
    _music("artist_consistency", "artist_consistency", {"artist_clip_id": CLIP_ID, "persona_id": PERSONA_ID}),
    _music("underpainting", "underpainting", {"underpainting_clip_id": CLIP_ID},
           ("underpainting_start_s", "underpainting_end_s")),
    _music("overpainting", "overpainting", {"overpainting_clip_id": CLIP_ID},
           ("overpainting_start_s", "overpainting_end_s")),
    _clip_input("concat", defaults={"is_infill": False}, yields=CLIPS),
    _clip_input("wav"),
    _clip_input("midi"),
    _clip_input("mp4"),
    _clip_input("timing"),
    _clip_input("separate"),
    StepKind("persona", "persona", defaults={"description": "", "is_public": False}, takes=CLIPS,
             binds={"root_clip_id": CLIP_ID, "clips": CLIP_ID_LIST}, yields=PERSONA),
    StepKind("lyrics", "lyrics", yields=LYRICS),
    StepKind("upload", "upload", yields=CLIPS),
    StepKind("udio", "udio"),
)
STEP_KINDS: dict[str, StepKind] = {kind.name: kind for kind in _KINDS}
# The architecture note's short spellings.
STEP_KINDS["underpaint"] = STEP_KINDS["underpainting"]
STEP_KINDS["overpaint"] = STEP_KINDS["overpainting"]
MUSIC_TASK_KINDS = ("extend", "infill", "gen_stem", "upload_extend", "artist_consistency", "underpainting",
                    "overpainting")


def kind_for(op: str, params: Mapping[str, Any]) -> StepKind | None:
    """The kind of a step: its op, or for ``op: music``/``generate`` with a ``task`` param, that task's kind."""
    kind = STEP_KINDS.get(op)
    if kind is not None and kind.operation == "music" and not kind.preset:
        task = params.get("task")
        if isinstance(task, str) and task in MUSIC_TASK_KINDS:
            return STEP_KINDS[task]
    return kind


def placeholder_params(kind: StepKind, source: str | None, persona: str | None) -> dict[str, Any]:
    """Stand-ins for the fields the binding will fill, so a spec validates before any step has run."""
    values: dict[str, Any] = {}
    for param, origin in kind.binds.items():
        if origin == PERSONA_ID:
            if persona:
                values[param] = f"<persona of step {persona}>"
        elif source and origin != SOURCE_MV:
            values[param] = {
                CLIP_ID: f"<clip of step {source}>",
                CLIP_ID_LIST: [f"<clip of step {source}>"],
                TASK_ID: f"<task of step {source}>",
                LYRICS_TEXT: f"<lyrics of step {source}>",
                LYRICS_TITLE: f"<title of step {source}>",
            }[origin]
    return values

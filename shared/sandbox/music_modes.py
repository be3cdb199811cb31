"""Validate a POST /suno/submit/music body, mode by mode, into a MusicOrder (the API docs' music modes).

The sandbox's own mode table, kept apart from the client's on purpose (see the note in ``validation``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .validation import (
    PERSONA_MODELS,
    PERSONA_SOURCE_MODEL,
    STEM_SETS,
    ClipFacts,
    PersonaFacts,
    SandboxApiError,
    field_error,
    find_model,
    known_model_names,
    optional_bool,
    optional_str,
    optional_str_list,
    require_seconds,
    require_str,
)

DEFAULT_MODEL = "chirp-v4"  # when a request names no mv
DEFAULT_UPLOAD_EXTEND_MODEL = "chirp-v4"
DEFAULT_STEM_MODEL = "chirp-auk"  # the docs' stem page: "mv should be chirp-auk"
# A clip's duration is rounded to 2 decimals; allow for that when checking a time against it.
DURATION_TOLERANCE = 0.01

ClipLookup = Callable[[str], ClipFacts | None]
PersonaLookup = Callable[[str], PersonaFacts | None]


@dataclass(frozen=True)
class MusicOrder:
    """A validated music request: everything the task builder needs, with `mv` in its dashed spelling."""

    mode: str
    mv: str
    title: str | None = None
    tags: str | None = None
    negative_tags: str | None = None
    prompt: str | None = None
    gpt_description_prompt: str | None = None
    make_instrumental: bool = False
    source_clip_id: str | None = None  # the clip extended, repainted, infilled or imitated
    continue_at: float | None = None
    edit_range: tuple[float, float] | None = None
    persona_id: str | None = None
    stem_task: str | None = None  # gen_stem only
    stem_type_group_name: str | None = None
    stem_type_id: int | None = None


class _Reader:
    """One request body plus what validation needs from the outside world."""

    def __init__(
        self, body: dict[str, Any], find_clip: ClipLookup, find_persona: PersonaLookup, max_prompt_chars: int
    ) -> None:
        self.body = body
        self.find_clip = find_clip
        self.find_persona = find_persona
        self.max_prompt_chars = max_prompt_chars

    def mv(self, *, default: str | None = None, allowed: tuple[str, ...] | None = None, upload: bool = False) -> str:
        """The dashed model name; `upload` also takes the docs' chirp-auk-upload / chirp-v4-upload.

        The docs list mv in every mode but never mark it required: left out, the upstream's default model is used
        (except where a mode needs a particular kind of model). A model this upstream does not offer answers 503
        "no available channel", as CometAPI does for a model outside the account's group.
        """
        if self.body.get("mv") in (None, "") and allowed is None:
            return default or DEFAULT_MODEL
        raw = require_str(self.body, "mv")
        name = raw.strip()
        model = find_model(name.removesuffix("-upload") if upload else name)
        if model is None:
            raise SandboxApiError(503, f"no available channel for model {raw} under group default "
                                  f"(models here: {', '.join(known_model_names())})")
        if allowed is not None and model.name not in allowed:
            raise field_error("mv", f"{self.body.get('task')} needs one of {', '.join(allowed)}, got {raw!r}")
        return model.name

    def custom_fields(self, *, empty_prompt_ok: bool = False) -> dict[str, Any]:
        """prompt, tags, title (required), negative_tags, make_instrumental; prompt may be "" when instrumental."""
        instrumental = optional_bool(self.body, "make_instrumental")
        allow_empty = instrumental or empty_prompt_ok
        return {
            "prompt": require_str(self.body, "prompt", allow_empty=allow_empty, max_chars=self.max_prompt_chars),
            "tags": require_str(self.body, "tags", max_chars=self.max_prompt_chars),
            "title": require_str(self.body, "title"),
            "negative_tags": optional_str(self.body, "negative_tags"),
            "make_instrumental": instrumental,
        }

    def optional_style_fields(self) -> dict[str, Any]:
        """prompt/tags/title that may be left out (then the source clip's are kept)."""
        return {
            "prompt": optional_str(self.body, "prompt", max_chars=self.max_prompt_chars),
            "tags": optional_str(self.body, "tags", max_chars=self.max_prompt_chars),
            "title": optional_str(self.body, "title"),
            "negative_tags": optional_str(self.body, "negative_tags"),
            "make_instrumental": optional_bool(self.body, "make_instrumental"),
        }

    def same_task(self, clip: ClipFacts, clip_field: str) -> None:
        """task_id may be left out; when given it must be the task that made the clip."""
        task_id = optional_str(self.body, "task_id")
        if task_id and task_id.strip() != clip.task_id:
            raise field_error("task_id", f"task {task_id!r} did not produce {clip_field} {clip.clip_id!r}")

    def complete_clip(self, name: str) -> ClipFacts:
        clip_id = require_str(self.body, name)
        facts = self.find_clip(clip_id)
        if facts is None:
            raise field_error(name, f"unknown clip {clip_id!r}")
        if not facts.complete:
            raise field_error(name, f"clip {clip_id!r} is not complete yet")
        return facts

    def time_within(self, name: str, clip: ClipFacts, clip_field: str) -> float:
        seconds = require_seconds(self.body, name)
        if seconds > clip.duration + DURATION_TOLERANCE:
            raise field_error(name, f"{seconds} is past the end of {clip_field} ({clip.duration} s)")
        return seconds

    def time_range(self, prefix: str, clip: ClipFacts, clip_field: str) -> tuple[float, float]:
        start = self.time_within(f"{prefix}_start_s", clip, clip_field)
        end = self.time_within(f"{prefix}_end_s", clip, clip_field)
        if start >= end:
            raise field_error(f"{prefix}_start_s", f"must be before {prefix}_end_s ({start} >= {end})")
        return start, end


def _inspiration(r: _Reader) -> MusicOrder:
    return MusicOrder(
        mode="inspiration",
        mv=r.mv(),
        gpt_description_prompt=require_str(r.body, "gpt_description_prompt", max_chars=r.max_prompt_chars),
        make_instrumental=optional_bool(r.body, "make_instrumental"),
        tags=optional_str(r.body, "tags", max_chars=r.max_prompt_chars),
    )


def _custom(r: _Reader) -> MusicOrder:
    """Custom mode; with make_instrumental or an empty prompt it is the instrumental mode (no lyrics)."""
    fields = r.custom_fields(empty_prompt_ok=True)
    mode = "instrumental" if fields["make_instrumental"] or not fields["prompt"].strip() else "custom"
    return MusicOrder(mode=mode, mv=r.mv(), **fields)


def _continuation(mode: str, default_mv: str | None) -> Callable[[_Reader], MusicOrder]:
    """extend and upload_extend: only the continuation point is required; style fields default to the source's."""

    def validate(r: _Reader) -> MusicOrder:
        mv = r.mv(default=default_mv, upload=mode == "upload_extend")
        fields = r.optional_style_fields()
        clip = r.complete_clip("continue_clip_id")
        r.same_task(clip, "continue_clip_id")
        continue_at = r.time_within("continue_at", clip, "continue_clip_id")
        return MusicOrder(mode=mode, mv=mv, source_clip_id=clip.clip_id, continue_at=continue_at, **fields)

    return validate


def _known_persona(r: _Reader) -> str:
    """The persona must come from /suno/persona/create, and its source song must be a chirp-auk song."""
    persona_id = require_str(r.body, "persona_id").strip()
    persona = r.find_persona(persona_id)
    if persona is None:
        raise field_error("persona_id", f"unknown persona {persona_id!r}; create one with /suno/persona/create")
    if persona.root_model_name != PERSONA_SOURCE_MODEL:
        raise field_error(
            "persona_id",
            f"persona {persona_id!r} was made from a {persona.root_model_name} song (root_clip_id "
            f"{persona.root_clip_id!r}); a persona's source song must itself be made with {PERSONA_SOURCE_MODEL}",
        )
    return persona_id


def _artist_consistency(r: _Reader) -> MusicOrder:
    mv = r.mv(allowed=PERSONA_MODELS)
    fields = r.custom_fields()
    persona_id = _known_persona(r)
    clip = r.complete_clip("artist_clip_id")
    return MusicOrder(mode="artist_consistency", mv=mv, persona_id=persona_id, source_clip_id=clip.clip_id, **fields)


def _gen_stem(r: _Reader) -> MusicOrder:
    """Stems of a clip as a music task (the docs' stem page): stem_task "two" or "twelve"."""
    mv = r.mv(default=DEFAULT_STEM_MODEL)
    clip = r.complete_clip("continue_clip_id")
    r.same_task(clip, "continue_clip_id")
    stem_task = require_str(r.body, "stem_task").strip().lower()
    if stem_task not in STEM_SETS:
        raise field_error("stem_task", f"must be one of {', '.join(STEM_SETS)}, got {r.body['stem_task']!r}")
    stem_type_id = r.body.get("stem_type_id")
    if stem_type_id is not None and (isinstance(stem_type_id, bool) or not isinstance(stem_type_id, int)):
        raise field_error("stem_type_id", f"must be a whole number, got {stem_type_id!r}")
    group = optional_str(r.body, "stem_type_group_name") or stem_task.capitalize()
    return MusicOrder(
        mode="gen_stem",
        mv=mv,
        source_clip_id=clip.clip_id,
        stem_task=stem_task,
        stem_type_group_name=group,
        stem_type_id=stem_type_id,
    )


def _repainting(kind: str) -> Callable[[_Reader], MusicOrder]:
    """underpainting (add instrumentals: prompt may be empty) and overpainting (add vocals: prompt is the lyrics)."""

    def validate(r: _Reader) -> MusicOrder:
        mv = r.mv()
        tags = require_str(r.body, "tags", max_chars=r.max_prompt_chars)
        title = require_str(r.body, "title")
        prompt = require_str(r.body, "prompt", allow_empty=kind == "underpainting", max_chars=r.max_prompt_chars)
        optional_str_list(r.body, "override_fields")
        clip = r.complete_clip(f"{kind}_clip_id")
        edit_range = r.time_range(kind, clip, f"{kind}_clip_id")
        return MusicOrder(
            mode=kind, mv=mv, tags=tags, title=title, prompt=prompt, source_clip_id=clip.clip_id, edit_range=edit_range
        )

    return validate


def _infill(r: _Reader) -> MusicOrder:
    # The docs name only infill_start_s/infill_end_s; the clip to infill rides in continue_clip_id,
    # the way the concat endpoint's is_infill flag later refers back to it.
    mv = r.mv()
    clip = r.complete_clip("continue_clip_id")
    r.same_task(clip, "continue_clip_id")
    edit_range = r.time_range("infill", clip, "continue_clip_id")
    return MusicOrder(
        mode="infill",
        mv=mv,
        source_clip_id=clip.clip_id,
        edit_range=edit_range,
        prompt=optional_str(r.body, "prompt", max_chars=r.max_prompt_chars),
        tags=optional_str(r.body, "tags", max_chars=r.max_prompt_chars),
        title=optional_str(r.body, "title"),
        make_instrumental=optional_bool(r.body, "make_instrumental"),
    )


MODE_VALIDATORS: dict[str, Callable[[_Reader], MusicOrder]] = {
    "inspiration": _inspiration,
    "custom": _custom,
    "extend": _continuation("extend", None),
    "upload_extend": _continuation("upload_extend", DEFAULT_UPLOAD_EXTEND_MODEL),
    "artist_consistency": _artist_consistency,
    "underpainting": _repainting("underpainting"),
    "overpainting": _repainting("overpainting"),
    "infill": _infill,
    "gen_stem": _gen_stem,
}
# Modes chosen by an explicit "task" value; the others (inspiration, custom) follow from the fields present.
TASK_VALUES = tuple(mode for mode in MODE_VALIDATORS if mode not in ("inspiration", "custom"))


def pick_music_mode(body: dict[str, Any]) -> str:
    task = body.get("task")
    if task not in (None, ""):
        if task not in TASK_VALUES:
            raise field_error("task", f"unknown task {task!r}; expected one of {', '.join(TASK_VALUES)}")
        return str(task)
    if "infill_start_s" in body or "infill_end_s" in body:
        return "infill"
    if body.get("continue_clip_id") not in (None, ""):
        raise field_error("task", 'must be "extend" or "upload_extend" when continue_clip_id is given')
    if body.get("gpt_description_prompt") is not None:
        return "inspiration"
    if not any(body.get(name) is not None for name in ("prompt", "tags", "title")):
        raise field_error(
            "gpt_description_prompt", "is required (inspiration mode), or give prompt, tags and title (custom mode)"
        )
    return "custom"


def validate_music_request(
    body: dict[str, Any], find_clip: ClipLookup, find_persona: PersonaLookup, *, max_prompt_chars: int
) -> MusicOrder:
    mode = pick_music_mode(body)
    if mode != "artist_consistency" and body.get("persona_id") not in (None, ""):
        raise field_error(
            "persona_id",
            f"only task artist_consistency (mv {', '.join(PERSONA_MODELS)}) takes a persona; this is {mode}",
        )
    return MODE_VALIDATORS[mode](_Reader(body, find_clip, find_persona, max_prompt_chars))

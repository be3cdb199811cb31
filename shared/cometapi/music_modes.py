"""The modes of /suno/submit/music: how the upstream tells them apart, and what each accepts.

The upstream has no "mode" field: the mode follows from the fields, and so it does here.
``music_mode`` reads it off the params, ``validate_music`` checks the mode's fields and
returns the body to send. Every mode's rules are data (``MODE_SPECS``). Nothing here names the operation:
the registry (``operations.py``) hands ``MusicRules`` its name, which every error carries.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from shared.cometapi.field_rules import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    SECONDS,
    TEXT,
    TEXT_LIST,
    FieldSpec,
    check_at_least,
    check_fields,
    check_span,
    drop_nulls,
    reject_notify_hook,
)
from shared.errors import BadRequest

MODELS: tuple[str, ...] = (
    "chirp-crow",  # v5
    "chirp-bluejay",  # v4.5+
    "chirp-auk",  # v4.5
    "chirp-v4",
    "chirp-v3-5",
    "chirp-v3-0",
    "chirp-v3-5-tau",
    "chirp-v4-tau",
)
# Models that take task=artist_consistency (a persona). chirp-auk is listed by the upstream too.
TAU_MODELS: tuple[str, ...] = ("chirp-v3-5-tau", "chirp-v4-tau", "chirp-auk")
# The scenario guide's models for task=upload_extend.
UPLOAD_MODELS: tuple[str, ...] = ("chirp-auk-upload", "chirp-v4-upload")
# A persona's source song (the root clip of /suno/persona/create) must itself be made with this model.
PERSONA_SOURCE_MODEL = "chirp-auk"

# task value -> mode; a request without "task" is inspiration, custom, instrumental or infill.
TASK_MODES: tuple[str, ...] = (
    "extend",
    "upload_extend",
    "artist_consistency",
    "underpainting",
    "overpainting",
    "infill",
    "gen_stem",
)
MUSIC_MODES: tuple[str, ...] = ("inspiration", "custom", "instrumental", *TASK_MODES)

MUSIC_FIELD_KINDS: dict[str, str] = {
    "mv": TEXT,
    "task": TEXT,
    "generation_type": TEXT,
    "gpt_description_prompt": TEXT,
    "prompt": TEXT,
    "tags": TEXT,
    "negative_tags": TEXT,
    "title": TEXT,
    "make_instrumental": BOOLEAN,
    "task_id": TEXT,
    "continue_clip_id": TEXT,
    "continue_at": SECONDS,
    "continued_aligned_prompt": TEXT,
    "persona_id": TEXT,
    "artist_clip_id": TEXT,
    "underpainting_clip_id": TEXT,
    "underpainting_start_s": NUMBER,
    "underpainting_end_s": NUMBER,
    "overpainting_clip_id": TEXT,
    "overpainting_start_s": NUMBER,
    "overpainting_end_s": NUMBER,
    "override_fields": TEXT_LIST,
    "infill_start_s": NUMBER,
    "infill_end_s": NUMBER,
    "stem_type_id": INTEGER,
    "stem_type_group_name": TEXT,
    "stem_task": TEXT,
}

_EVERY_MODE = {"mv", "generation_type"}
_STYLE = {"prompt", "tags", "title", "negative_tags", "make_instrumental"}
_CONTINUATION = {"task_id", "continued_aligned_prompt"}


def _spec(required: set[str], optional: set[str]) -> FieldSpec:
    names = required | optional | _EVERY_MODE
    return FieldSpec(kinds={name: MUSIC_FIELD_KINDS[name] for name in sorted(names)}, required=frozenset(required))


MODE_SPECS: dict[str, FieldSpec] = {
    # A topic; the upstream writes lyrics and style. prompt may be present but must be "".
    "inspiration": _spec({"gpt_description_prompt"}, {"prompt", "make_instrumental", "negative_tags"}),
    "custom": _spec({"prompt", "tags", "title"}, _STYLE),
    # Custom without vocals: make_instrumental true, or an empty prompt (the form the API docs' scenario examples use).
    "instrumental": _spec({"tags", "title"}, _STYLE),
    # The API docs' examples show extend both with and without task_id and the style fields: only the
    # continuation point is required; the style fields may be "" (instrumental continuation).
    "extend": _spec({"task", "continue_clip_id", "continue_at"}, _STYLE | _CONTINUATION),
    "upload_extend": _spec({"task", "continue_clip_id", "continue_at"}, _STYLE | _CONTINUATION),
    "artist_consistency": _spec(
        {"task", "prompt", "tags", "title", "persona_id", "artist_clip_id", "mv"}, _STYLE | {"task_id"}
    ),
    "underpainting": _spec(
        {"task", "underpainting_clip_id", "underpainting_start_s", "underpainting_end_s", "tags", "title"},
        _STYLE | {"override_fields"},
    ),
    "overpainting": _spec(
        {"task", "overpainting_clip_id", "overpainting_start_s", "overpainting_end_s", "tags", "title", "prompt"},
        _STYLE | {"override_fields"},
    ),
    "infill": _spec({"task", "continue_clip_id", "infill_start_s", "infill_end_s"}, _STYLE | _CONTINUATION),
    "gen_stem": _spec(
        {"task", "continue_clip_id", "stem_type_id", "stem_type_group_name", "stem_task"},
        _STYLE | _CONTINUATION,
    ),
}

# The CometAPI examples always send these with under/overpainting; without them the
# upstream keeps the source clip's prompt and tags.
_OVERRIDE_DEFAULT = ["prompt", "tags"]


def known_model(value: str) -> str | None:
    """The dashed name of a model hookline knows (``chirp-v3.5`` -> ``chirp-v3-5``), else None."""
    name = value.strip().lower().replace(".", "-")
    return name if name in MODELS or name in UPLOAD_MODELS else None


def normalize_mv(value: Any, *, operation: str | None = None) -> str:
    """The dashed name of a known model (``chirp-v3.5`` -> ``chirp-v3-5``); BadRequest if it is not a known one.

    For the rules that need a known model; what is *sent* is ``mv_to_send``: the name as the user wrote it.
    """
    if not isinstance(value, str):
        raise BadRequest(f"mv must be a string, got {type(value).__name__}", field="mv", operation=operation)
    name = known_model(value)
    if name is None:
        raise BadRequest(f"unknown mv {value!r}; expected one of {', '.join(MODELS)}", field="mv", operation=operation)
    return name


def mv_to_send(value: str, aliases: Mapping[str, str]) -> str:
    """The model name sent upstream: as the user wrote it, unless COMETAPI_MV_ALIASES maps that spelling."""
    return aliases.get(value, aliases.get(value.strip(), value))


def mv_warnings(payload: Mapping[str, Any]) -> list[str]:
    """A warning for an mv hookline does not know: it is sent as given (upstreams add models before the docs)."""
    mv = payload.get("mv")
    if isinstance(mv, str) and known_model(mv) is None:
        return [f"unknown mv {mv!r}: sent as given (hookline knows {', '.join((*MODELS, *UPLOAD_MODELS))})"]
    return []


def music_mode(params: Mapping[str, Any], *, operation: str | None = None) -> str:
    """The mode the upstream will read off these fields (null values count as absent).

    ``task`` names the mode when present. Without it: infill_start_s/infill_end_s -> infill,
    gpt_description_prompt -> inspiration (make_instrumental true keeps it inspiration: its
    fields do not change), prompt/tags/title -> custom, or instrumental when make_instrumental
    is true or prompt is "".
    """
    given = drop_nulls(params)
    if "task" in given:
        task = given["task"]
        if task not in TASK_MODES:
            raise BadRequest(f"unknown music task {task!r}; expected one of {', '.join(TASK_MODES)}", field="task",
                             operation=operation)
        return str(task)
    if "infill_start_s" in given or "infill_end_s" in given:
        return "infill"
    if "gpt_description_prompt" in given:
        return "inspiration"
    if any(name in given for name in ("prompt", "tags", "title")):
        if given.get("make_instrumental") is True or given.get("prompt") == "":
            return "instrumental"
        return "custom"
    raise BadRequest(
        "cannot tell the music mode: give gpt_description_prompt (inspiration), "
        "prompt + tags + title (custom), or a task",
        field="gpt_description_prompt",
        operation=operation,
    )


def extra_fields(params: Mapping[str, Any]) -> list[str]:
    """Fields of inspiration-mode params that the mode does not list: sent as given, with a warning."""
    given = drop_nulls(params)
    try:
        mode = music_mode(given)
    except BadRequest:
        return []
    if mode != "inspiration":
        return []
    return sorted(name for name in given if name not in MODE_SPECS[mode].kinds and name != "notify_hook")


def music_warnings(params: Mapping[str, Any]) -> list[str]:
    """What a music job is accepted with but warned about: an unknown mv, inspiration's unlisted fields."""
    found = mv_warnings(drop_nulls(params))
    extras = extra_fields(params)
    if extras:
        found.append(f"inspiration mode does not document {', '.join(extras)}: sent as given")
    return found


def validate_music(params: Mapping[str, Any], *, operation: str) -> dict[str, Any]:
    """The exact /suno/submit/music body for ``params``, or BadRequest naming the field."""
    reject_notify_hook(params, operation=operation)
    payload = copy.deepcopy(drop_nulls(params))
    mode = music_mode(payload, operation=operation)
    if mode == "infill":
        payload.setdefault("task", "infill")
    extras = {name: payload.pop(name) for name in extra_fields(payload)}  # inspiration: passed through, warned
    check_fields(payload, MODE_SPECS[mode], operation=operation, prefix="")
    for name, value in extras.items():
        if name in MUSIC_FIELD_KINDS:  # a documented music field: still of its documented kind
            check_fields({name: value}, FieldSpec({name: MUSIC_FIELD_KINDS[name]}), operation=operation)
    payload.update(extras)
    _check_mode_rules(mode, payload, operation)  # mv stays as written: CometClient.submit applies the aliases
    if mode == "underpainting":
        payload.setdefault("prompt", "")
        payload.setdefault("override_fields", list(_OVERRIDE_DEFAULT))
    if mode == "overpainting":
        payload.setdefault("override_fields", list(_OVERRIDE_DEFAULT))
    return payload


def _check_mode_rules(mode: str, payload: dict[str, Any], operation: str) -> None:
    """Rules across fields, after each field has the right kind."""
    if "mv" in payload and not isinstance(payload["mv"], str):
        raise BadRequest(f"mv must be a string, got {type(payload['mv']).__name__}", field="mv", operation=operation)
    model = known_model(payload["mv"]) if "mv" in payload else None
    if mode == "artist_consistency" and model not in TAU_MODELS:
        raise BadRequest(
            f"artist_consistency needs a persona-capable mv ({', '.join(TAU_MODELS)}), got {payload['mv']!r}",
            field="mv",
            operation=operation,
        )
    if mode == "upload_extend" and "mv" in payload and model is not None and model not in UPLOAD_MODELS:
        raise BadRequest(
            f"upload_extend needs an upload model ({', '.join(UPLOAD_MODELS)}), got {payload['mv']!r}",
            field="mv",
            operation=operation,
        )
    check_at_least(payload, "continue_at", 0, operation=operation)
    for kind in ("underpainting", "overpainting", "infill"):
        if mode == kind:
            check_span(payload, f"{kind}_start_s", f"{kind}_end_s", operation=operation)


class MusicRules:
    """The request rules of /suno/submit/music: the mode follows from the fields, and each mode has its own."""

    def validate(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return validate_music(params, operation=operation)

    def warnings(self, params: Mapping[str, Any]) -> list[str]:
        return music_warnings(params)

    def form(self) -> tuple[str | None, FieldSpec]:
        """Every music field (each mode's own required ones: ``MODE_SPECS``)."""
        return None, FieldSpec(kinds=MUSIC_FIELD_KINDS)

    def accepted_fields(self, params: Mapping[str, Any]) -> frozenset[str] | None:
        """The fields of the mode these params select, or None when no mode can be told yet, or for inspiration,
        which passes undocumented fields through (with a warning)."""
        try:
            mode = music_mode(params)
        except BadRequest:
            return None
        return None if mode == "inspiration" else frozenset(MODE_SPECS[mode].kinds)

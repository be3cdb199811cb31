"""Check a request before anything is sent (and paid for), and return the exact body to send.

``validate_request(operation, params)`` is the one entry point. Every error is
``BadRequest(message, field=<field name>)``; nested Udio fields are named ``gen_params.<name>``.
Null values count as absent and are dropped (the upstream's own examples send null for
"not given"). ``notify_hook`` is always refused: the worker adds it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from shared.cometapi.endpoints import OPERATIONS, SEPARATION_ENDPOINTS, SEPARATION_MODE_KEY
from shared.cometapi.field_rules import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    OBJECT,
    TEXT,
    TEXT_LIST,
    URL,
    FieldSpec,
    check_between,
    check_choice,
    check_fields,
    check_span,
    drop_nulls,
    reject_notify_hook,
)
from shared.cometapi.music_modes import MODELS, TAU_MODELS, music_mode, normalize_mv, validate_music
from shared.errors import BadRequest

__all__ = ["MODELS", "TAU_MODELS", "UDIO_MODEL_TYPES", "music_mode", "normalize_mv", "validate_request"]

_EXPORT = FieldSpec(kinds={"clip_id": TEXT}, required=frozenset({"clip_id"}))

# Request shapes of the operations that are one flat JSON object (music and udio have their own).
FLAT_SPECS: dict[str, FieldSpec] = {
    "lyrics": FieldSpec(kinds={"prompt": TEXT}, required=frozenset({"prompt"})),
    "upload": FieldSpec(kinds={"audio_url": URL, "title": TEXT}, required=frozenset({"audio_url"})),
    "concat": FieldSpec(kinds={"clip_id": TEXT, "is_infill": BOOLEAN}, required=frozenset({"clip_id", "is_infill"})),
    # The seeds document no body for the separation endpoints; CometAPI's stem page passes the
    # task id and the clip id. `mode` is hookline's routing key (full | single), not sent.
    "separate": FieldSpec(
        kinds={SEPARATION_MODE_KEY: TEXT, "clip_id": TEXT, "task_id": TEXT}, required=frozenset({"clip_id"})
    ),
    "persona": FieldSpec(
        kinds={"root_clip_id": TEXT, "name": TEXT, "description": TEXT, "clips": TEXT_LIST, "is_public": BOOLEAN},
        required=frozenset({"root_clip_id", "name", "description", "clips", "is_public"}),
        may_be_blank=frozenset({"description"}),
    ),
    "wav": _EXPORT,
    "midi": _EXPORT,
    "mp4": _EXPORT,
    "timing": _EXPORT,
}

UDIO_MODEL_TYPES: tuple[str, ...] = ("udio32-v1.5", "udio130-v1.5")
UDIO_LYRICS_TYPES: tuple[str, ...] = ("user", "instrumental", "generate")
UDIO_QUALITIES: tuple[float, ...] = (0.25, 0.5, 0.75, 1)
# Seed 003 lists these under config, but its example (and the reseller format) sends them
# in gen_params; they are accepted in gen_params and config stays free-form.
UDIO_FRACTIONS: tuple[str, ...] = (
    "song_section_start",
    "song_section_end",
    "lyrics_placement_start",
    "lyrics_placement_end",
    "prompt_strength",
    "clarity_strength",
    "lyrics_strength",
)
_UDIO_TOP = FieldSpec(kinds={"gen_params": OBJECT}, required=frozenset({"gen_params"}))
_UDIO_GEN_PARAMS = FieldSpec(
    kinds={
        "prompt": TEXT,
        "lyrics": TEXT,
        "lyrics_type": TEXT,
        "model_type": TEXT,
        "config": OBJECT,
        "negative_prompt": TEXT,
        "generation_quality": NUMBER,
        "seed": INTEGER,
        "bypass_prompt_optimization": BOOLEAN,
        **{name: NUMBER for name in UDIO_FRACTIONS},
    },
    required=frozenset({"prompt", "lyrics_type", "model_type"}),
)
# Seed 003 marks config required; its example sends this.
UDIO_DEFAULT_CONFIG: dict[str, Any] = {"mode": "regular"}


def validate_request(operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The exact JSON payload for ``operation``, or BadRequest naming the field at fault.

    For the exports (wav, midi, mp4, timing) the payload is ``{"clip_id": ...}``, sent as a
    path parameter. For ``separate`` it keeps the routing key ``mode`` ("full" or "single",
    default "full"), which ``CometClient.submit`` removes before sending.
    """
    if operation not in OPERATIONS:
        raise BadRequest(
            f"unknown operation {operation!r}; expected one of {', '.join(OPERATIONS)}", field="operation"
        )
    if not isinstance(params, Mapping):
        raise BadRequest(f"{operation} params must be an object, got {type(params).__name__}", field="params")
    if operation == "music":
        return validate_music(params)
    reject_notify_hook(params, operation=operation)
    payload = copy.deepcopy(drop_nulls(params))
    if operation == "udio":
        return _validate_udio(payload)
    check_fields(payload, FLAT_SPECS[operation], operation=operation)
    if operation == "separate":
        check_choice(payload, SEPARATION_MODE_KEY, tuple(SEPARATION_ENDPOINTS), operation=operation)
        payload.setdefault(SEPARATION_MODE_KEY, "full")
    return payload


def _validate_udio(payload: dict[str, Any]) -> dict[str, Any]:
    check_fields(payload, _UDIO_TOP, operation="udio")
    prefix = "gen_params."
    reject_notify_hook(payload["gen_params"], operation="udio", prefix=prefix)
    gen_params = drop_nulls(payload["gen_params"])
    check_fields(gen_params, _UDIO_GEN_PARAMS, operation="udio", prefix=prefix)
    check_choice(gen_params, "model_type", UDIO_MODEL_TYPES, operation="udio", prefix=prefix)
    check_choice(gen_params, "lyrics_type", UDIO_LYRICS_TYPES, operation="udio", prefix=prefix)
    check_choice(gen_params, "generation_quality", UDIO_QUALITIES, operation="udio", prefix=prefix)
    for name in UDIO_FRACTIONS:
        check_between(gen_params, name, 0, 1, operation="udio", prefix=prefix)
    for part in ("song_section", "lyrics_placement"):
        check_span(gen_params, f"{part}_start", f"{part}_end", operation="udio", prefix=prefix)
    if gen_params["lyrics_type"] == "user" and not gen_params.get("lyrics", "").strip():
        raise BadRequest('lyrics_type "user" needs the lyrics', field=prefix + "lyrics", operation="udio")
    gen_params.setdefault("lyrics", "")
    gen_params.setdefault("config", dict(UDIO_DEFAULT_CONFIG))
    return {"gen_params": gen_params}

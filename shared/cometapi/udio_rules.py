"""The request rules of /udio/generate-proxy: everything sits in ``gen_params``, whose fields are named
``gen_params.<name>`` in errors. Nothing here names the operation: the registry hands ``UdioRules`` its name.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from shared.cometapi.field_rules import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    OBJECT,
    TEXT,
    FieldSpec,
    check_between,
    check_choice,
    check_fields,
    check_span,
    drop_nulls,
    reject_notify_hook,
)
from shared.errors import BadRequest

UDIO_MODEL_TYPES: tuple[str, ...] = ("udio32-v1.5", "udio130-v1.5")
UDIO_LYRICS_TYPES: tuple[str, ...] = ("user", "instrumental", "generate")
UDIO_QUALITIES: tuple[float, ...] = (0.25, 0.5, 0.75, 1)
# The API docs list these under config, but their example (and the reseller format) sends them in gen_params;
# they are accepted in gen_params and config stays free-form.
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
# The API docs mark config required; their example sends this.
UDIO_DEFAULT_CONFIG: dict[str, Any] = {"mode": "regular"}


class UdioRules:
    """Checks ``{gen_params: {...}}`` and fills the lyrics and config the upstream expects."""

    def form(self) -> tuple[str | None, FieldSpec]:
        """The fields a form offers: those of gen_params (config stays free-form)."""
        return "gen_params", _UDIO_GEN_PARAMS

    def validate(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        reject_notify_hook(params, operation=operation)
        payload = copy.deepcopy(drop_nulls(params))
        check_fields(payload, _UDIO_TOP, operation=operation)
        prefix = "gen_params."
        reject_notify_hook(payload["gen_params"], operation=operation, prefix=prefix)
        gen_params = drop_nulls(payload["gen_params"])
        check_fields(gen_params, _UDIO_GEN_PARAMS, operation=operation, prefix=prefix)
        check_choice(gen_params, "model_type", UDIO_MODEL_TYPES, operation=operation, prefix=prefix)
        check_choice(gen_params, "lyrics_type", UDIO_LYRICS_TYPES, operation=operation, prefix=prefix)
        check_choice(gen_params, "generation_quality", UDIO_QUALITIES, operation=operation, prefix=prefix)
        for name in UDIO_FRACTIONS:
            check_between(gen_params, name, 0, 1, operation=operation, prefix=prefix)
        for part in ("song_section", "lyrics_placement"):
            check_span(gen_params, f"{part}_start", f"{part}_end", operation=operation, prefix=prefix)
        if gen_params["lyrics_type"] == "user" and not gen_params.get("lyrics", "").strip():
            raise BadRequest('lyrics_type "user" needs the lyrics', field=prefix + "lyrics", operation=operation)
        gen_params.setdefault("lyrics", "")
        gen_params.setdefault("config", dict(UDIO_DEFAULT_CONFIG))
        return {"gen_params": gen_params}

    def accepted_fields(self, params: Mapping[str, Any]) -> frozenset[str] | None:
        return None  # nested: the pipeline spec leaves gen_params to this validator

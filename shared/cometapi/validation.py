"""Check a request before anything is sent (and paid for), and return the exact body to send.

``validate_request(operation, params)`` is the one entry point; each operation's rules come from its record in
the registry. Every error is ``BadRequest(message, field=<field name>)``; nested Udio fields are named
``gen_params.<name>``. Null values count as absent and are dropped (the upstream's own examples send null for
"not given"). ``notify_hook`` is always refused: the worker adds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.cometapi.field_rules import DEFAULT_TEXT_LIMITS, TextLimits, check_choice, check_text_lengths
from shared.cometapi.music_modes import MODELS, TAU_MODELS
from shared.cometapi.music_modes import music_mode as music_mode_of
from shared.cometapi.music_modes import normalize_mv as normalize_mv_of
from shared.cometapi.operations import MUSIC, OPERATIONS, REGISTRY, operation_named
from shared.cometapi.udio_rules import UDIO_MODEL_TYPES
from shared.errors import BadRequest

if TYPE_CHECKING:
    from shared.config import Settings

__all__ = [
    "MODELS",
    "TAU_MODELS",
    "UDIO_MODEL_TYPES",
    "TextLimits",
    "accepted_fields",
    "music_mode",
    "normalize_mv",
    "request_warnings",
    "text_limits_of",
    "validate_request",
]


def text_limits_of(settings: Settings) -> TextLimits:
    """The configured prompt, tags and title lengths (HOOKLINE_MAX_PROMPT_CHARS, …_TAGS_CHARS, …_TITLE_CHARS)."""
    return TextLimits(settings.max_prompt_chars, settings.max_tags_chars, settings.max_title_chars)


def validate_request(operation: str, params: Mapping[str, Any], *,
                     text_limits: TextLimits = DEFAULT_TEXT_LIMITS) -> dict[str, Any]:
    """The exact JSON payload for ``operation``, or BadRequest naming the field at fault.

    For the exports (wav, midi, mp4, timing) the payload is ``{"clip_id": ...}``, sent as a path parameter. An
    operation with a routing key (separation's ``mode``: "full" or "single", default "full") keeps it in the
    payload, and ``CometClient.submit`` removes it before sending.
    """
    if operation not in OPERATIONS:
        raise BadRequest(
            f"unknown operation {operation!r}; expected one of {', '.join(OPERATIONS)}", field="operation"
        )
    if not isinstance(params, Mapping):
        raise BadRequest(f"{operation} params must be an object, got {type(params).__name__}", field="params")
    record = operation_named(operation)
    payload = record.request.validate(operation, params)
    check_text_lengths(payload, text_limits, operation=operation)
    if record.routing is not None:
        routing = record.routing
        check_choice(payload, routing.key, tuple(routing.endpoints), operation=operation)
        payload.setdefault(routing.key, routing.default)
    return payload


def request_warnings(operation: str, params: Mapping[str, Any]) -> list[str]:
    """What valid params are accepted with but warned about (an unknown mv sent as given, inspiration's undocumented
    fields passed through); the job keeps them with its events."""
    record = REGISTRY.get(operation)
    warn = getattr(record.request, "warnings", None) if record is not None else None
    return list(warn(params)) if warn is not None and isinstance(params, Mapping) else []


def accepted_fields(operation: str, params: Mapping[str, Any]) -> frozenset[str] | None:
    """The fields ``operation`` accepts with these params (music: the mode's), or None when that is not known."""
    record = REGISTRY.get(operation)
    return record.request.accepted_fields(params) if record is not None else None


def music_mode(params: Mapping[str, Any]) -> str:
    """The music mode the upstream will read off these fields (see ``music_modes``); errors name the music operation."""
    return music_mode_of(params, operation=MUSIC)


def normalize_mv(value: Any) -> str:
    """The dashed model name for ``value`` (``chirp-v3.5`` -> ``chirp-v3-5``); BadRequest if unknown."""
    return normalize_mv_of(value, operation=MUSIC)

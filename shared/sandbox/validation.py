"""Refusing a request the upstream's way, and the sandbox's own tables of what a request may ask for.

- The upstream's JSON envelope: ``SandboxApiError`` (a route raises it to answer ``{"code":"error", …}``),
  ``field_error``, and, so that both shapes are in one place, the success answer and the JSON body reader.
- Typed readers for the fields of a body; each failure names the field (HTTP 400, or 413 for size).
- The Suno model table (`mv`), the models that take a persona, and the stem table.
- What validation needs to know about the clips and personas the sandbox made (``ClipFacts``, ``PersonaFacts``).

The music modes are checked in ``music_modes``, the Udio generate body in ``udio``.
"""

# Why the sandbox keeps its own model list, mode table and stem table instead of importing the client's from
# shared/cometapi: the simulator is there to catch the client's bugs, not to repeat them. If both read one
# table, a wrong assumption in it (a model the upstream does not know, a field a mode does not take) would be
# made on both sides of every request and could never fail a test. Each side is written from the API docs on
# its own, so a disagreement between them shows up as a failing test.

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

from flask import Blueprint, Response, jsonify, request

from shared.cometapi.endpoints import ENDPOINTS


class SandboxApiError(Exception):
    """Answer the current request with ``{"code":"error","message":…,"data":null}`` and this HTTP status."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.message = message
        self.headers = headers or {}
        super().__init__(f"HTTP {status}: {message}")


def field_error(field: str, problem: str, *, status: int = 400) -> SandboxApiError:
    """A 400 whose message starts with the offending field's name, the way clients expect to read it."""
    return SandboxApiError(status, f"{field}: {problem}")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"code": "error", "message": message, "data": None})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def success_response(data: Any) -> Response:
    return jsonify({"code": "success", "message": "", "data": data})


def request_json_object() -> dict[str, Any]:
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise SandboxApiError(400, "request body must be a JSON object")
    return body


# --- typed readers for the fields of a JSON body -------------------------------------------------------------


def require_str(body: dict[str, Any], name: str, *, allow_empty: bool = False, max_chars: int | None = None) -> str:
    if name not in body or body[name] is None:
        raise field_error(name, "is required")
    return _checked_str(body, name, allow_empty=allow_empty, max_chars=max_chars)


def optional_str(body: dict[str, Any], name: str, *, max_chars: int | None = None) -> str | None:
    if body.get(name) is None:
        return None
    return _checked_str(body, name, allow_empty=True, max_chars=max_chars)


def _checked_str(body: dict[str, Any], name: str, *, allow_empty: bool, max_chars: int | None) -> str:
    value = body[name]
    if not isinstance(value, str):
        raise field_error(name, f"must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise field_error(name, "must not be empty")
    if max_chars is not None and len(value) > max_chars:
        raise field_error(name, f"is too long ({len(value)} > {max_chars} characters)", status=413)
    return value


def optional_bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise field_error(name, f"must be true or false, got {value!r}")
    return value


def require_seconds(body: dict[str, Any], name: str) -> float:
    """A non-negative number of seconds; a numeric string is accepted too (the docs type continue_at as string)."""
    if name not in body or body[name] is None:
        raise field_error(name, "is required")
    value = body[name]
    if isinstance(value, bool):
        raise field_error(name, f"must be a number of seconds, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise field_error(name, f"must be a number of seconds, got {body[name]!r}") from None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise field_error(name, f"must be a number of seconds, got {body[name]!r}")
    if value < 0:
        raise field_error(name, f"must not be negative, got {value}")
    return float(value)


def optional_str_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise field_error(name, "must be a list of strings")
    return value


def optional_http_url(body: dict[str, Any], name: str) -> str:
    """An empty or absent value means "none" (the docs show ``"notify_hook": ""``)."""
    value = optional_str(body, name)
    if not value:
        return ""
    if not value.startswith(("http://", "https://")):
        raise field_error(name, f"must be an http(s) URL, got {value!r}")
    return value


# --- the Suno models (`mv`) the upstream knows -------------------------------------------------------------


class SunoModel(NamedTuple):
    name: str  # dashed spelling, what clips report as model_name
    major_version: str  # what clips report as major_model_version


MODELS: dict[str, SunoModel] = {
    model.name: model
    for model in (
        SunoModel("chirp-crow", "v5"),
        SunoModel("chirp-bluejay", "v4.5+"),
        SunoModel("chirp-auk", "v4.5"),
        SunoModel("chirp-v4", "v4"),
        SunoModel("chirp-v4-tau", "v4"),
        SunoModel("chirp-v3-5", "v3.5"),
        SunoModel("chirp-v3-5-tau", "v3.5"),
        SunoModel("chirp-v3-0", "v3"),
    )
}

# The API docs spell some versions with dots in places; both spellings reach the same model.
ALIASES: dict[str, str] = {
    "chirp-v3.5": "chirp-v3-5",
    "chirp-v3.0": "chirp-v3-0",
    "chirp-v3.5-tau": "chirp-v3-5-tau",
}

PERSONA_MODELS: tuple[str, ...] = ("chirp-v3-5-tau", "chirp-v4-tau", "chirp-auk")
# A persona's source song (its root clip) must itself have been made with this model.
PERSONA_SOURCE_MODEL = "chirp-auk"


def find_model(mv: str) -> SunoModel | None:
    return MODELS.get(ALIASES.get(mv, mv))


def known_model_names() -> list[str]:
    return sorted(MODELS)


# stem_task -> the stems it yields, in order (the docs' gen_stem page shows "two"; Suno's full split is "twelve").
STEM_SETS: dict[str, tuple[str, ...]] = {
    "two": ("Vocals", "Instrumental"),
    "twelve": (
        "Vocals",
        "Backing Vocals",
        "Drums",
        "Bass",
        "Guitar",
        "Keyboard",
        "Percussion",
        "Strings",
        "Synth",
        "FX",
        "Brass",
        "Woodwinds",
    ),
}


# --- what validation needs to know about things the sandbox made ------------------------------------------


class ClipFacts(NamedTuple):
    """What validation needs to know about a clip the sandbox produced."""

    clip_id: str
    task_id: str
    duration: float
    complete: bool


class PersonaFacts(NamedTuple):
    """What artist_consistency needs to know about a persona made with /suno/persona/create."""

    persona_id: str
    root_clip_id: str
    root_model_name: str


def serve_endpoint(blueprint: Blueprint, endpoint: str, view: Callable[..., Response], *,
                   main_path_only: bool = False) -> None:
    """Serve ``view`` at the paths the endpoint table documents for ``endpoint``.

    The paths (not the validation) come from the client's endpoint table on purpose: a path is a fact of the API
    docs, and both path families a deployment may use are listed there, so the simulator serves exactly those.
    """
    row = ENDPOINTS[endpoint]
    rules = row.route_rules[:1] if main_path_only else row.route_rules
    for rule in rules:
        blueprint.add_url_rule(rule, view_func=view, methods=[row.method])

"""Udio: POST /udio/generate-proxy answers a generation id; GET /udio/query?ids=… lists its songs.

Udio documents no callback, so a generation is polled: each song shows ``finished: false`` until the
generation completes (the same NOT_START → … → COMPLETE clock as a Suno task, never sent anywhere). Here are
the routes, the check of the generate body (with the sandbox's own Udio model table; see the note in
``validation`` for why it is not the client's), and the generation, built as a task of two songs. The song's
JSON shape is ``public_shapes.render_song``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify, request

from .faults import FaultPlan
from .runtime import accept_submission, current_runtime
from .task_building import (
    SECOND_CLIP_EXTRA_SECONDS,
    Submission,
    assemble_task,
    new_task_id,
    write_lyrics,
    write_tags,
    write_title,
)
from .task_records import UDIO, TaskRecord, make_clip
from .validation import SandboxApiError, field_error, optional_str, request_json_object, require_str, serve_endpoint

udio_routes = Blueprint("sandbox_udio", __name__)

# model_type -> song length in CLIP_SECONDS: the 130 s model makes longer songs than the 32 s one.
UDIO_MODELS: dict[str, float] = {"udio32-v1.5": 1.0, "udio130-v1.5": 2.0}
LYRICS_TYPES = ("user", "instrumental", "generate")
QUALITIES = (0.25, 0.5, 0.75, 1)
FRACTIONS = (
    "song_section_start",
    "song_section_end",
    "lyrics_placement_start",
    "lyrics_placement_end",
    "prompt_strength",
    "clarity_strength",
    "lyrics_strength",
)
PREFIX = "gen_params."
MAX_TAGS = 5
T = TypeVar("T")


@dataclass(frozen=True)
class UdioOrder:
    prompt: str
    lyrics_type: str
    lyrics: str
    model_type: str


def _in_gen_params(check: Callable[[], T]) -> T:
    """Run a field check on gen_params, naming the field as gen_params.<name> if it fails."""
    try:
        return check()
    except SandboxApiError as error:
        raise SandboxApiError(error.status, PREFIX + error.message) from None


def _choice(params: dict[str, Any], name: str, choices: tuple[Any, ...]) -> Any:
    value = params.get(name)
    if value is None:
        raise field_error(PREFIX + name, "is required")
    if value not in choices or isinstance(value, bool):
        raise field_error(PREFIX + name, f"must be one of {', '.join(map(str, choices))}, got {value!r}")
    return value


def _check_numbers(params: dict[str, Any]) -> None:
    for name in FRACTIONS:
        value = params.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise field_error(PREFIX + name, f"must be a number, got {value!r}")
        if not 0 <= value <= 1:
            raise field_error(PREFIX + name, f"must be between 0 and 1, got {value}")
    for part in ("song_section", "lyrics_placement"):
        start, end = params.get(f"{part}_start"), params.get(f"{part}_end")
        if start is not None and end is not None and not start < end:
            raise field_error(PREFIX + f"{part}_end", f"must be greater than {part}_start ({end} <= {start})")
    if params.get("generation_quality") is not None:
        _choice(params, "generation_quality", QUALITIES)
    seed = params.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise field_error(PREFIX + "seed", f"must be a whole number, got {seed!r}")
    if params.get("config") is not None and not isinstance(params["config"], dict):
        raise field_error(PREFIX + "config", "must be an object")


def validate_udio_request(body: dict[str, Any], *, max_prompt_chars: int) -> UdioOrder:
    params = body.get("gen_params")
    if params is None:
        raise field_error("gen_params", "is required")
    if not isinstance(params, dict):
        raise field_error("gen_params", "must be an object")
    prompt = _in_gen_params(lambda: require_str(params, "prompt", max_chars=max_prompt_chars))
    model_type = _choice(params, "model_type", tuple(UDIO_MODELS))
    lyrics_type = _choice(params, "lyrics_type", LYRICS_TYPES)
    lyrics = _in_gen_params(lambda: optional_str(params, "lyrics", max_chars=max_prompt_chars)) or ""
    if lyrics_type == "user" and not lyrics.strip():
        raise field_error(PREFIX + "lyrics", 'is required when lyrics_type is "user"')
    _check_numbers(params)
    return UdioOrder(prompt=prompt, lyrics_type=lyrics_type, lyrics=lyrics, model_type=model_type)


def song_tags(prompt: str, seed: str) -> list[str]:
    """Udio reports tags as a list: the prompt's comma-separated styles, or some written from it."""
    tags = [part.strip().lower() for part in prompt.split(",") if part.strip()]
    if len(tags) < 2:
        tags = write_tags(prompt, seed).split(", ")
    return tags[:MAX_TAGS]


def build_udio_task(order: UdioOrder, submission: Submission, faults: FaultPlan) -> TaskRecord:
    """Two songs; no notify_hook (Udio documents no callback, so the generation is polled)."""
    generation_id = new_task_id()
    if order.lyrics_type == "user":
        lyrics = order.lyrics
    elif order.lyrics_type == "generate":
        lyrics = write_lyrics(order.prompt, generation_id)
    else:
        lyrics = ""
    base_seconds = submission.clip_seconds * UDIO_MODELS[order.model_type]
    songs = [
        make_clip(
            generation_id,
            index,
            title=write_title(order.prompt, f"{generation_id}:{index}"),
            tags=", ".join(song_tags(order.prompt, generation_id)),
            prompt=lyrics,
            gpt_description_prompt=order.prompt,
            model_name=order.model_type,
            major_model_version="v1.5",
            duration=round(base_seconds + index * SECOND_CLIP_EXTRA_SECONDS, 2),
            mode="udio",
        )
        for index in range(2)
    ]
    return assemble_task(generation_id, UDIO, order.model_type, submission, faults, clips=songs)


# --- routes ----------------------------------------------------------------------------------------------------

def generate() -> Response:
    runtime = current_runtime()
    body = request_json_object()
    order = validate_udio_request(body, max_prompt_chars=int(runtime.config["MAX_PROMPT_CHARS"]))
    submission = runtime.submission(dict(body), "", request.host_url)
    return accept_submission(runtime, build_udio_task(order, submission, runtime.faults))


def query() -> Response:
    """``{"songs": [...]}`` for ids given comma-separated (``?ids=a,b``) or repeated (``?ids=a&ids=b``)."""
    ids = [part.strip() for value in request.args.getlist("ids") for part in value.split(",") if part.strip()]
    if not ids:
        raise field_error("ids", "is required: ?ids=<generation id>[,<generation id>…]")
    return jsonify({"songs": current_runtime().store.render_udio_songs(ids)})


# The documented paths of each endpoint (both path families where deployments differ), from the endpoint table.
serve_endpoint(udio_routes, "udio_generate", generate)
serve_endpoint(udio_routes, "udio_query", query)

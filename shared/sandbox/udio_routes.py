"""Udio (seed 003): POST /udio/generate-proxy answers a generation id; GET /udio/query?ids=… lists its songs.

Udio documents no callback, so a generation is polled: each song shows ``finished: false`` until the
generation completes (the same NOT_START → … → COMPLETE clock as a Suno task, never sent anywhere)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from .api_errors import field_error
from .route_helpers import accept_submission, request_json_object
from .runtime import current_runtime
from .udio_generation import build_udio_task, validate_udio_request

udio_routes = Blueprint("sandbox_udio", __name__, url_prefix="/udio")


@udio_routes.post("/generate-proxy")
def generate() -> Response:
    runtime = current_runtime()
    body = request_json_object()
    order = validate_udio_request(body, max_prompt_chars=int(runtime.config["MAX_PROMPT_CHARS"]))
    submission = runtime.submission(dict(body), "", request.host_url)
    return accept_submission(runtime, build_udio_task(order, submission, runtime.faults))


@udio_routes.get("/query")
def query() -> Response:
    """``{"songs": [...]}`` for ids given comma-separated (``?ids=a,b``) or repeated (``?ids=a&ids=b``)."""
    ids = [part.strip() for value in request.args.getlist("ids") for part in value.split(",") if part.strip()]
    if not ids:
        raise field_error("ids", "is required: ?ids=<generation id>[,<generation id>…]")
    return jsonify({"songs": current_runtime().store.render_udio_songs(ids)})

"""The core of the upstream API: /suno/submit/lyrics, /suno/submit/music (every mode), /suno/fetch."""

from __future__ import annotations

from flask import Blueprint, Response, request

from .api_errors import SandboxApiError, field_error, success_response
from .field_checks import optional_http_url, require_str
from .music_modes import validate_music_request
from .route_helpers import accept_submission, request_json_object
from .runtime import current_runtime
from .task_builder import build_lyrics_task, build_music_task
from .task_records import SUNO_ACTIONS

suno_routes = Blueprint("sandbox_suno", __name__, url_prefix="/suno")


@suno_routes.post("/submit/lyrics")
def submit_lyrics() -> Response:
    runtime = current_runtime()
    body = request_json_object()
    topic = require_str(body, "prompt", max_chars=int(runtime.config["MAX_PROMPT_CHARS"]))
    notify_hook = optional_http_url(body, "notify_hook")
    submission = runtime.submission(dict(body), notify_hook, request.host_url)
    return accept_submission(runtime, build_lyrics_task(topic, submission, runtime.faults))


@suno_routes.post("/submit/music")
def submit_music() -> Response:
    runtime = current_runtime()
    body = request_json_object()
    order = validate_music_request(
        body,
        runtime.store.clip_facts,
        runtime.personas.facts,
        max_prompt_chars=int(runtime.config["MAX_PROMPT_CHARS"]),
    )
    notify_hook = optional_http_url(body, "notify_hook")
    source = runtime.store.clip_copy(order.source_clip_id) if order.source_clip_id else None
    submission = runtime.submission(dict(body), notify_hook, request.host_url)
    return accept_submission(runtime, build_music_task(order, submission, runtime.faults, source))


@suno_routes.get("/fetch/<task_id>")
def fetch_task(task_id: str) -> Response:
    task = current_runtime().store.render(task_id)
    if task is None:
        raise SandboxApiError(404, f"task not found: {task_id}")
    return success_response(task)


@suno_routes.post("/fetch")
def fetch_tasks() -> Response:
    body = request_json_object()
    ids = body.get("ids")
    if ids is None:
        raise field_error("ids", "is required")
    if not isinstance(ids, list) or not all(isinstance(task_id, str) for task_id in ids):
        raise field_error("ids", "must be a list of task id strings")
    action = body.get("action")
    if action is None:
        raise field_error("action", "is required")
    if action not in SUNO_ACTIONS:
        raise field_error("action", f"must be one of {', '.join(SUNO_ACTIONS)}, got {action!r}")
    return success_response(current_runtime().store.render_many(ids, action))

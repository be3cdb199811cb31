"""The upstream API the sandbox imitates: /suno/submit/lyrics, /suno/submit/music, /suno/fetch."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from .api_errors import SandboxApiError, field_error, success_response
from .field_checks import optional_http_url, require_str
from .music_modes import validate_music_request
from .runtime import SandboxRuntime, current_runtime
from .task_builder import build_lyrics_task, build_music_task
from .task_records import LYRICS, MUSIC, TaskRecord

suno_routes = Blueprint("sandbox_suno", __name__, url_prefix="/suno")

FETCH_ACTIONS = (MUSIC, LYRICS)


def request_json_object() -> dict[str, Any]:
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise SandboxApiError(400, "request body must be a JSON object")
    return body


def accept_submission(runtime: SandboxRuntime, task: TaskRecord) -> Response:
    """Create the task; under the ambiguous fault, keep the client waiting past its read timeout first."""
    runtime.accept(task)
    if runtime.faults.roll("ambiguous_rate"):
        runtime.store.mark_ambiguous(task.task_id)
        runtime.pause(runtime.faults.value("ambiguous_sleep"))
    return success_response(task.task_id)


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
        body, runtime.store.clip_facts, max_prompt_chars=int(runtime.config["MAX_PROMPT_CHARS"])
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
    if action not in FETCH_ACTIONS:
        raise field_error("action", f"must be one of {', '.join(FETCH_ACTIONS)}, got {action!r}")
    return success_response(current_runtime().store.render_many(ids, action))

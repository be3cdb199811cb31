"""Every Suno submit, and fetch to read back the tasks they made.

- /suno/submit/lyrics and /suno/submit/music (every mode) make a LYRICS or MUSIC task.
- Upload, concat and the two separation endpoints turn existing audio into a MUSIC task (``clip_tasks``).
- Each of those answers ``{"code":"success","message":"","data":"<task_id>"}``, takes an optional notify_hook
  (called back on every state change) and is read with /suno/fetch.
- /suno/persona/create (also at /suno/submit/persona) answers at once, with the bare persona object
  ``{"id": persona_id, …}`` (no envelope, no task). The persona may be made from any complete clip;
  artist_consistency later accepts it only if that root clip was made with chirp-auk.
"""

from __future__ import annotations

import time
import uuid

from flask import Blueprint, Response, jsonify, request

from shared.cometapi.endpoints import ENDPOINTS

from .clip_tasks import build_concat_task, build_separation_task, build_upload_task, plan_concat, read_upload
from .media_routes import export_task
from .music_modes import validate_music_request
from .public_shapes import render_persona
from .runtime import accept_submission, current_runtime
from .task_building import build_lyrics_task, build_music_task
from .task_records import SUNO_ACTIONS, ClipRecord, PersonaRecord
from .validation import (
    SandboxApiError,
    field_error,
    optional_bool,
    optional_http_url,
    optional_str,
    optional_str_list,
    request_json_object,
    require_str,
    serve_endpoint,
    success_response,
)

submit_routes = Blueprint("sandbox_submits", __name__)


def submit_lyrics() -> Response:
    runtime = current_runtime()
    body = request_json_object()
    topic = require_str(body, "prompt", max_chars=int(runtime.config["MAX_PROMPT_CHARS"]))
    notify_hook = optional_http_url(body, "notify_hook")
    submission = runtime.submission(dict(body), notify_hook, request.host_url)
    return accept_submission(runtime, build_lyrics_task(topic, submission, runtime.faults))


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


# --- upload, concat, separation --------------------------------------------------------------------------------


def servable_clip_copy(clip_id: str) -> ClipRecord | None:
    found = current_runtime().store.clip_for_media(clip_id)
    return found.clip if found else None


def submit_upload(url_field: str) -> Response:
    runtime = current_runtime()
    body = request_json_object()
    url = optional_http_url(body, url_field)
    if not url:
        raise field_error(url_field, "is required")
    title = optional_str(body, "title")
    notify_hook = optional_http_url(body, "notify_hook")
    audio = read_upload(url, servable_clip_copy, url_field)
    submission = runtime.submission(dict(body), notify_hook, request.host_url)
    return accept_submission(runtime, build_upload_task(audio, title, submission, runtime.faults))


def upload_clip() -> Response:
    """The form in the API docs: ``{audio_url, title?}``."""
    return submit_upload("audio_url")


def upload_clip_by_url() -> Response:
    """Other resellers' form of the same upload: ``{url}``."""
    return submit_upload("url")


def concat_clip() -> Response:
    runtime = current_runtime()
    body = request_json_object()
    clip_id = require_str(body, "clip_id").strip()
    is_infill = body.get("is_infill")
    if not isinstance(is_infill, bool):
        raise field_error("is_infill", "is required (true or false)" if is_infill is None else "must be true or false")
    notify_hook = optional_http_url(body, "notify_hook")
    plan = plan_concat(clip_id, is_infill, runtime.store.clip_copy, runtime.store.is_complete)
    submission = runtime.submission(dict(body), notify_hook, request.host_url)
    return accept_submission(runtime, build_concat_task(plan, submission, runtime.faults))


def submit_separation(separation: str) -> Response:
    runtime = current_runtime()
    body = request_json_object()
    clip_id = require_str(body, "clip_id").strip()
    source = runtime.store.clip_copy(clip_id)
    if source is None:
        raise field_error("clip_id", f"unknown clip {clip_id!r}")
    if not runtime.store.is_complete(source.clip_id):
        raise field_error("clip_id", f"clip {clip_id!r} is not complete yet")
    task_id = optional_str(body, "task_id")
    if task_id and task_id.strip() != source.task_id:
        raise field_error("task_id", f"task {task_id!r} did not produce clip_id {clip_id!r}")
    notify_hook = optional_http_url(body, "notify_hook")
    submission = runtime.submission(dict(body), notify_hook, request.host_url)
    return accept_submission(runtime, build_separation_task(source, separation, submission, runtime.faults))


def separate_full() -> Response:
    """All twelve stems (stem_task "twelve"): Vocals, Backing Vocals, Drums, Bass, … Woodwinds."""
    return submit_separation("full")


def separate_single() -> Response:
    """Two stems (stem_task "two"): Vocals and Instrumental."""
    return submit_separation("single")


# --- personas --------------------------------------------------------------------------------------------------


def known_clip_ids(field: str, clip_ids: list[str]) -> tuple[str, ...]:
    store = current_runtime().store
    for clip_id in clip_ids:
        if store.clip_facts(clip_id) is None:
            raise field_error(field, f"unknown clip {clip_id!r}")
    return tuple(clip_id.strip() for clip_id in clip_ids)


def create_persona() -> Response:
    runtime = current_runtime()
    body = request_json_object()
    root_clip_id = require_str(body, "root_clip_id").strip()
    root = runtime.store.clip_copy(root_clip_id)
    if root is None:
        raise field_error("root_clip_id", f"unknown clip {root_clip_id!r}")
    if not runtime.store.is_complete(root_clip_id):
        raise field_error("root_clip_id", f"clip {root_clip_id!r} is not complete yet")
    name = optional_str(body, "name") or ""  # the persona page's example sends it, but marks nothing required
    description = optional_str(body, "description") or ""
    clip_ids = known_clip_ids("clips", optional_str_list(body, "clips")) or (root_clip_id,)
    persona = PersonaRecord(
        persona_id=str(uuid.uuid4()),
        name=name,
        description=description,
        root_clip_id=root_clip_id,
        root_model_name=root.model_name,
        clip_ids=clip_ids,
        is_public=optional_bool(body, "is_public"),
        created=time.time(),
    )
    runtime.personas.add(persona)
    if runtime.faults.roll("ambiguous_rate"):  # a paid submit: created, but the answer comes too late
        runtime.pause(runtime.faults.value("ambiguous_sleep"))
    clips = runtime.store.render_feed_clips([root_clip_id, *clip_ids])
    return jsonify(render_persona(persona, clips))


# --- fetch -----------------------------------------------------------------------------------------------------


def fetch_task(task_id: str) -> Response:
    task = current_runtime().store.render(task_id) or export_task(task_id)
    if task is None:
        raise SandboxApiError(404, f"task not found: {task_id}")
    return success_response(task)


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


# The documented paths of each endpoint (both path families where deployments differ), from the endpoint table.
serve_endpoint(submit_routes, "lyrics", submit_lyrics)
serve_endpoint(submit_routes, "music", submit_music)
serve_endpoint(submit_routes, "upload", upload_clip, main_path_only=True)
serve_endpoint(submit_routes, "concat", concat_clip)
serve_endpoint(submit_routes, "separate_full", separate_full)
serve_endpoint(submit_routes, "separate_single", separate_single)
serve_endpoint(submit_routes, "persona", create_persona)
serve_endpoint(submit_routes, "fetch_one", fetch_task)
serve_endpoint(submit_routes, "fetch_many", fetch_tasks)
# Other resellers take an upload as {url} at the alternative path: its own body, so its own view.
submit_routes.add_url_rule(ENDPOINTS["upload"].route_rules[1], view_func=upload_clip_by_url, methods=["POST"])

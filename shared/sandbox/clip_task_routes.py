"""Submits that turn existing audio into a MUSIC task: upload, concat, and the two separation endpoints.

Each answers ``{"code":"success","message":"","data":"<task_id>"}``, takes an optional notify_hook (called
back like a music task), and is fetched like one (action MUSIC)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from .api_errors import field_error
from .concat_plan import plan_concat
from .derived_tasks import build_concat_task, build_separation_task, build_upload_task
from .field_checks import optional_http_url, optional_str, require_str
from .route_helpers import accept_submission, request_json_object
from .runtime import current_runtime
from .task_records import ClipRecord
from .upload_source import read_upload

clip_task_routes = Blueprint("sandbox_clip_tasks", __name__, url_prefix="/suno")


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


@clip_task_routes.post("/submit/upload")
def upload_clip() -> Response:
    """The summary's form: ``{audio_url, title?}``."""
    return submit_upload("audio_url")


@clip_task_routes.post("/uploads/audio-url")
def upload_clip_by_url() -> Response:
    """Other resellers' form of the same upload: ``{url}``."""
    return submit_upload("url")


@clip_task_routes.post("/submit/concat")
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


@clip_task_routes.post("/submit/audio/separation/full")
def separate_full() -> Response:
    """All twelve stems (stem_task "twelve"): Vocals, Backing Vocals, Drums, Bass, … Woodwinds."""
    return submit_separation("full")


@clip_task_routes.post("/submit/audio/separation/single")
def separate_single() -> Response:
    """Two stems (stem_task "two"): Vocals and Instrumental."""
    return submit_separation("single")

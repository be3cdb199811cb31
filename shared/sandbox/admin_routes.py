"""Sandbox-only controls for tests, all under /_sandbox/ (a real client never calls these)."""

from __future__ import annotations

import json
import time

from flask import Blueprint, Response, jsonify, request

from .callback_delivery import post_callback
from .runtime import current_runtime
from .task_records import PROGRESS
from .validation import SandboxApiError, field_error

admin_routes = Blueprint("sandbox_admin", __name__, url_prefix="/_sandbox")


@admin_routes.get("/requests")
def list_requests() -> Response:
    return jsonify(current_runtime().requests.entries())


@admin_routes.post("/reset")
def reset() -> Response:
    current_runtime().reset()
    return jsonify({"reset": True})


@admin_routes.get("/tasks")
def list_tasks() -> Response:
    return jsonify(current_runtime().store.summaries())


@admin_routes.get("/tasks/<task_id>")
def task_record(task_id: str) -> Response:
    view = current_runtime().store.internal_view(task_id)
    if view is None:
        raise SandboxApiError(404, f"task not found: {task_id}")
    return jsonify(view)


@admin_routes.post("/tasks/<task_id>/callback")
def resend_callback(task_id: str) -> Response:
    """POST the task's current snapshot to its notify_hook now (status overridden if asked); synchronous.

    Body (all optional): {"status": "IN_PROGRESS", "notify_hook": "http://…"} — the latter overrides the URL."""
    runtime = current_runtime()
    body = request.get_json(silent=True, force=True) or {}
    if not isinstance(body, dict):
        raise SandboxApiError(400, "request body must be a JSON object")
    task_object = runtime.store.render(task_id)
    if task_object is None:
        raise SandboxApiError(404, f"task not found: {task_id}")
    status = body.get("status")
    if status is not None:
        if status not in PROGRESS:
            raise field_error("status", f"must be one of {', '.join(PROGRESS)}, got {status!r}")
        task_object["status"] = status
    url = body.get("notify_hook") or task_object["notify_hook"]
    if not url:
        raise field_error("notify_hook", "the task has none; give one in the body")
    receiver_status, error = post_callback(url, json.dumps(task_object).encode(), runtime.callback_settings.timeout)
    runtime.store.note_callback(
        task_id,
        {
            "status": task_object["status"],
            "attempt": 1,
            "fault": "manual",
            "time": time.time(),
            "receiver_status": receiver_status,
            "error": error,
        },
    )
    return jsonify({"receiver_status": receiver_status, "error": error, "sent": task_object})


@admin_routes.get("/faults")
def read_faults() -> Response:
    return jsonify(current_runtime().faults.snapshot())


@admin_routes.post("/faults")
def replace_faults() -> Response:
    """Replace FAULTS: knobs not given go back to their defaults (off)."""
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise SandboxApiError(400, "request body must be a JSON object of fault knobs")
    return jsonify(current_runtime().faults.replace(body))

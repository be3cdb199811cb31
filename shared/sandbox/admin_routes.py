"""Sandbox-only controls for tests, all under /_sandbox/ (a real client never calls these), and the account's
balance query (``balance_routes``: CometAPI's /user/quota, which a real client does call)."""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from .callback_delivery import post_callback
from .runtime import current_runtime
from .task_records import PROGRESS
from .validation import SandboxApiError, field_error, serve_endpoint

admin_routes = Blueprint("sandbox_admin", __name__, url_prefix="/_sandbox")
balance_routes = Blueprint("sandbox_balance", __name__)

# What the sandbox charges against its BALANCE_USD, from the API docs' price list (the sandbox's own table).
SANDBOX_PRICES: dict[str, float] = {"/suno/submit/lyrics": 0.02, "/suno/submit/music": 0.144,
                                    "/suno/submit/upload": 0.02, "/suno/uploads/audio-url": 0.02}
EXTEND_PRICE = 0.04


def _charged(entry: dict[str, Any]) -> float:
    if entry["status"] != 200 or entry["method"] != "POST":
        return 0.0
    body = entry["json"] if isinstance(entry["json"], dict) else {}
    if entry["path"] == "/suno/submit/music" and body.get("task") in ("extend", "upload_extend"):
        return EXTEND_PRICE
    return SANDBOX_PRICES.get(entry["path"], 0.0)


def account_balance() -> Response:
    """CometAPI's balance query: ``GET /user/quota?key=<API key>`` (the key in the query, not a Bearer header)."""
    runtime = current_runtime()
    key, expected = request.args.get("key", ""), runtime.config["API_KEY"]
    if expected and not hmac.compare_digest(key.encode(), str(expected).encode()):
        raise SandboxApiError(401, "Invalid API key provided")
    entries = runtime.requests.entries()
    used = round(sum(_charged(entry) for entry in entries), 6)
    total = float(runtime.config["BALANCE_USD"])
    return jsonify({"username": "sandbox", "total_quota": round(total - used, 6), "total_used_quota": used,
                    "request_count": len(entries),
                    "keys": [{"name": "sandbox", "remain_quota": round(total - used, 6), "used_quota": used}]})


serve_endpoint(balance_routes, "balance", account_balance)


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

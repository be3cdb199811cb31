"""create_app: the sandbox Flask app, with auth, latency, request logging and injected errors up front."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from .admin_routes import admin_routes
from .api_errors import SandboxApiError, error_response
from .clip_task_routes import clip_task_routes
from .export_routes import export_routes
from .fault_plan import checked_faults
from .media_routes import media_routes
from .persona_routes import persona_routes
from .runtime import EXTENSION_KEY, SandboxRuntime, current_runtime
from .udio_routes import udio_routes
from .upstream_routes import suno_routes

log = logging.getLogger(__name__)

DEFAULT_CONFIG: dict[str, Any] = {
    "API_KEY": None,  # when set, /suno and /udio need "Authorization: Bearer <key>"
    "LATENCY": 0.0,  # seconds added before answering every upstream route
    "STEP_SECONDS": 1.0,  # between NOT_START → IN_PROGRESS → STREAMING → COMPLETE
    "CLIP_SECONDS": 12.0,  # first clip's duration; the second is 1.5 s longer
    "CALLBACK_TIMEOUT": 5.0,
    "CALLBACK_RETRIES": 2,  # extra attempts after a failed callback POST
    "CALLBACK_RETRY_DELAY": 1.0,
    "FAULTS": {},  # see fault_plan.FAULT_DEFAULTS; all off
    "FAULT_SEED": None,  # seed for the fault dice; None = different every run
    "MEDIA_BASE_URL": None,  # e.g. "http://sandbox:8080/"; None = the submitting request's host URL
    "MAX_PROMPT_CHARS": 5000,  # longer prompt/tags answer 413, like the upstream's "prompt too large"
}
UPSTREAM_PREFIXES = ("/suno/", "/udio/")
INVALID_KEY_MESSAGE = "Invalid API key provided"


def merged_config(config: dict[str, Any] | None) -> dict[str, Any]:
    merged = {**DEFAULT_CONFIG, **(config or {})}
    merged["FAULTS"] = checked_faults(merged["FAULTS"])
    base = merged["MEDIA_BASE_URL"]
    if base and not base.endswith("/"):
        merged["MEDIA_BASE_URL"] = base + "/"
    return merged


def bearer_matches(header: str | None, api_key: str) -> bool:
    scheme, _, token = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), api_key.encode())


def guard_upstream_request() -> None:
    """Log, delay, authenticate and maybe fail an upstream request, in that order, before its view runs."""
    if not request.path.startswith(UPSTREAM_PREFIXES):
        return
    runtime = current_runtime()
    body = request.get_json(silent=True, force=True)
    g.sandbox_request_entry = runtime.requests.record(request.method, request.path, body)
    runtime.pause(float(runtime.config["LATENCY"]))
    api_key = runtime.config["API_KEY"]
    if api_key and not bearer_matches(request.headers.get("Authorization"), api_key):
        raise SandboxApiError(401, INVALID_KEY_MESSAGE)
    injected = runtime.faults.injected_error()
    if injected is not None:
        raise injected


def note_answer_status(response: Response) -> Response:
    entry = g.get("sandbox_request_entry")
    if entry is not None:
        current_runtime().requests.note_status(entry, response.status_code)
    return response


def answer_api_error(error: SandboxApiError) -> Response:
    return error_response(error.status, error.message, error.headers)


def answer_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    message = f"{error.name.lower()}: {request.method} {request.path}" if status in (404, 405) else error.name
    response = error_response(status, message)
    if status == 405 and error.response is None:
        allowed = getattr(error, "valid_methods", None)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
    return response


def answer_unexpected(error: Exception) -> Response:
    log.exception("sandbox: unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal server error")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Defaults, then `config`. Starts the task clock and callback threads; stop them with shutdown_sandbox(app)."""
    settings = merged_config(config)
    app = Flask(__name__)
    app.config.update(settings)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep fields in the documented order
    app.extensions[EXTENSION_KEY] = SandboxRuntime(settings)
    app.before_request(guard_upstream_request)
    app.after_request(note_answer_status)
    app.register_error_handler(SandboxApiError, answer_api_error)
    app.register_error_handler(HTTPException, answer_http_exception)
    app.register_error_handler(Exception, answer_unexpected)
    for blueprint in (suno_routes, clip_task_routes, persona_routes, export_routes, udio_routes, media_routes):
        app.register_blueprint(blueprint)
    app.register_blueprint(admin_routes)
    return app

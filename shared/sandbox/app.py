"""The sandbox Flask app and how it is served.

- ``create_app``: defaults, then the given config; auth, latency, request logging and injected errors run
  before every upstream route; errors answer in the upstream's envelope.
- ``run_sandbox``: serve in the foreground until SIGTERM/SIGINT (``hookline sandbox``, ``python -m shared.sandbox``).
- ``start_background_sandbox``: serve from a thread on a free loopback port (tests); stop it with ``.stop()``.
"""

from __future__ import annotations

import hmac
import logging
import signal
import threading
from dataclasses import dataclass
from types import FrameType
from typing import Any

from flask import Flask, Response, g, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server, run_simple

from shared.redaction import redact_tokens

from .admin_routes import admin_routes, balance_routes
from .faults import checked_faults
from .media_routes import DEFAULT_DIALECT, cdn_routes, checked_dialect, export_routes
from .runtime import EXTENSION_KEY, SandboxRuntime, current_runtime, runtime_of
from .submit_routes import submit_routes
from .udio import udio_routes
from .validation import SandboxApiError, error_response

log = logging.getLogger(__name__)

DEFAULT_CONFIG: dict[str, Any] = {
    "API_KEY": None,  # when set, /suno and /udio need "Authorization: Bearer <key>"
    "LATENCY": 0.0,  # seconds added before answering every upstream route
    "STEP_SECONDS": 1.0,  # between NOT_START → IN_PROGRESS → STREAMING → COMPLETE
    "CLIP_SECONDS": 12.0,  # first clip's duration; the second is 1.5 s longer
    "CALLBACK_TIMEOUT": 5.0,
    "CALLBACK_RETRIES": 2,  # extra attempts after a failed callback POST
    "CALLBACK_RETRY_DELAY": 1.0,
    "FAULTS": {},  # see faults.FAULT_DEFAULTS; all off
    "FAULT_SEED": None,  # seed for the fault dice; None = different every run
    "MEDIA_BASE_URL": None,  # e.g. "http://sandbox:8080/"; None = the submitting request's host URL
    "MAX_PROMPT_CHARS": 5000,  # longer prompt/tags answer 413, like the upstream's "prompt too large"
    "BALANCE_USD": 10.0,  # what /user/quota starts from (new CometAPI accounts get $10); paid submits spend it
    "DIALECT": DEFAULT_DIALECT,  # the exports' "<paths>:<answer>": seed|act : object|bare|url|task (media_routes)
}
UPSTREAM_PREFIXES = ("/suno/", "/udio/")
INVALID_KEY_MESSAGE = "Invalid API key provided"


def merged_config(config: dict[str, Any] | None) -> dict[str, Any]:
    merged = {**DEFAULT_CONFIG, **(config or {})}
    merged["FAULTS"] = checked_faults(merged["FAULTS"])
    merged["DIALECT"] = checked_dialect(merged["DIALECT"])
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
    if isinstance(app.json, DefaultJSONProvider):
        app.json.sort_keys = False  # keep fields in the documented order
    app.extensions[EXTENSION_KEY] = SandboxRuntime(settings)
    app.before_request(guard_upstream_request)
    app.after_request(note_answer_status)
    app.register_error_handler(SandboxApiError, answer_api_error)
    app.register_error_handler(HTTPException, answer_http_exception)
    app.register_error_handler(Exception, answer_unexpected)
    for blueprint in (submit_routes, export_routes, udio_routes, cdn_routes, admin_routes, balance_routes):
        app.register_blueprint(blueprint)
    return app


# --- serving ---------------------------------------------------------------------------------------------------


class KeyRedactingRequestHandler(WSGIRequestHandler):
    """The access log without the API key of a balance query (``/user/quota?key=…``) or a callback token."""

    def log(self, type: str, message: str, *args: object) -> None:  # `type`: werkzeug's parameter name
        super().log(type, redact_tokens(message % args if args else message))


def shutdown_sandbox(app: Flask) -> None:
    """Stop the app's task clock and callback threads (they are daemons, but tests should not leak them)."""
    runtime_of(app).shutdown()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_sandbox(host: str, port: int, config: dict[str, Any] | None = None) -> None:
    """Serve until SIGTERM/SIGINT, then stop the background threads and return."""
    app = create_app(config)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        # werkzeug's serve_forever swallows KeyboardInterrupt and closes the socket; either way we end up below.
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False,
                   request_handler=KeyRedactingRequestHandler)
    except KeyboardInterrupt:
        pass
    finally:
        shutdown_sandbox(app)
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


@dataclass
class BackgroundSandbox:
    """A sandbox served from a thread on a loopback port; `url` ends with a slash."""

    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.server.host}:{self.server.port}/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
        shutdown_sandbox(self.app)


def start_background_sandbox(
    config: dict[str, Any] | None = None, host: str = "127.0.0.1", port: int = 0
) -> BackgroundSandbox:
    """Start serving on a free port (port=0) in a daemon thread; call .stop() when done."""
    app = create_app(config)
    server = make_server(host, port, app, threaded=True, request_handler=KeyRedactingRequestHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox-http", daemon=True
    )
    thread.start()
    return BackgroundSandbox(app, server, thread)

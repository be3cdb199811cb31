"""Serve the sandbox: in the foreground until a signal (run_sandbox), or in a background thread (tests)."""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from types import FrameType
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server, run_simple

from .app_factory import create_app
from .runtime import runtime_of


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
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
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
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox-http", daemon=True
    )
    thread.start()
    return BackgroundSandbox(app, server, thread)

"""A producer's webhook endpoint for tests: a real HTTP server on 127.0.0.1 that records every POST and answers
with a scripted list of statuses (then 200). Signatures are checked by the tests with ``standardwebhooks``."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

from shared.cli.stack import wait_until


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class EventReceiver:
    """``answers[path]``: statuses (or (status, headers)) to give, in order, before answering 200."""

    answers: dict[str, list[Any]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> EventReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body, time.time()))
                    script = receiver.answers.get(self.path) or []
                    answer = script.pop(0) if script else 200
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 30.0) -> list[Received]:
        def enough() -> list[Received] | None:
            got = self.at(path)
            return got if len(got) >= count else None

        try:
            return wait_until(enough, timeout, what=f"{count} requests to {path}")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}: {len(self.at(path))} arrived") from None


def verified(secret: str, request: Received) -> Any:
    """The event, verified by the standardwebhooks package (raises WebhookVerificationError if forged)."""
    return Webhook(secret).verify(request.body, request.headers)

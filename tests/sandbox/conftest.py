"""Fixtures for the sandbox tests: a real sandbox on a free loopback port, and a callback receiver."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from mutagen.mp3 import MP3

from shared.cli.stack import wait_until
from shared.sandbox import BackgroundSandbox, start_background_sandbox

FAST_CONFIG: dict[str, Any] = {"STEP_SECONDS": 0.1, "CLIP_SECONDS": 2.0, "CALLBACK_RETRY_DELAY": 0.2, "FAULT_SEED": 7}


class SandboxClient:
    """A thin HTTP client for one running sandbox (what a real client would send, nothing more)."""

    wait_until = staticmethod(wait_until)

    def __init__(self, running: BackgroundSandbox, api_key: str | None) -> None:
        self.running = running
        self.url = running.url
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def post(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return requests.post(self.url + path, json=body, headers=self.headers, timeout=kw.pop("timeout", 10), **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return requests.get(self.url + path, headers=self.headers, timeout=kw.pop("timeout", 10), **kw)

    def submit_music(self, body: dict[str, Any]) -> str:
        response = self.post("suno/submit/music", body)
        assert response.status_code == 200, response.text
        return str(response.json()["data"])

    def fetch(self, task_id: str) -> dict[str, Any]:
        response = self.get(f"suno/fetch/{task_id}")
        assert response.status_code == 200, response.text
        return dict(response.json()["data"])

    def wait_for_status(self, task_id: str, *statuses: str, timeout: float = 5.0) -> dict[str, Any]:
        return dict(wait_until(lambda: (task := self.fetch(task_id))["status"] in statuses and task, timeout))

    def complete_song(self, **overrides: Any) -> dict[str, Any]:
        """Submit a custom-mode song and wait until it is COMPLETE; returns the task object."""
        body = {"prompt": "[Verse]\nla la la", "tags": "pop", "title": "Base", "mv": "chirp-auk", **overrides}
        return self.wait_for_status(self.submit_music(body), "COMPLETE")

    def submit(self, path: str, body: dict[str, Any]) -> str:
        """POST a task submit that must succeed; returns the task id from the envelope."""
        response = self.post(path, body)
        assert response.status_code == 200, response.text
        envelope = response.json()
        assert envelope["code"] == "success" and envelope["message"] == "", envelope
        return str(envelope["data"])

    def media(self, url: str, content_type: str) -> bytes:
        """GET a media URL the sandbox handed out; it must answer 200 with that content type."""
        response = requests.get(url, timeout=10)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == content_type
        return response.content

    def mp3_seconds(self, url: str) -> float:
        """Download a clip's MP3 and decode its length with mutagen."""
        info = MP3(io.BytesIO(self.media(url, "audio/mpeg"))).info
        assert info is not None
        return float(info.length)

    def wait_for_export(self, path: str, done: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """GET an export until `done(answer)`; returns every answer seen, in order."""
        answers: list[dict[str, Any]] = []

        def finished() -> bool:
            response = self.get(path)
            assert response.status_code == 200, response.text
            answers.append(response.json())
            return done(answers[-1])

        wait_until(finished, timeout=5, interval=0.05)
        return answers

    def create_persona(self, root_clip_id: str) -> str:
        body = {"root_clip_id": root_clip_id, "name": "Voice", "description": "", "clips": [root_clip_id]}
        response = self.post("suno/persona/create", {**body, "is_public": True})
        assert response.status_code == 200, response.text
        return str(response.json()["id"])


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., SandboxClient]]:
    started: list[BackgroundSandbox] = []

    def start(**config: Any) -> SandboxClient:
        running = start_background_sandbox({**FAST_CONFIG, **config})
        started.append(running)
        return SandboxClient(running, config.get("API_KEY"))

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def sandbox(start_sandbox: Callable[..., SandboxClient]) -> SandboxClient:
    return start_sandbox()


class CallbackReceiver:
    """Catches callback POSTs; answers with the queued statuses first (e.g. [500]), then 200."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answers: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    answer = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.received.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": json.loads(raw),
                            "answer": answer,
                            "time": time.time(),
                        }
                    )
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def bodies(self, task_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r["body"] for r in self.received if task_id is None or r["body"].get("task_id") == task_id]

    def statuses(self, task_id: str) -> list[str]:
        return [body["status"] for body in self.bodies(task_id)]

    def wait_for(self, task_id: str, status: str, timeout: float = 5.0) -> list[str]:
        """Wait until a callback with `status` arrived for the task; returns all its statuses so far."""
        return list(wait_until(lambda: status in self.statuses(task_id) and self.statuses(task_id), timeout))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FileServer:
    """Serves registered bytes over GET (another local server an upload's audio_url may point at)."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        files = self.files

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's naming
                content, content_type = files.get(self.path, (b"not found", "text/plain"))
                self.send_response(200 if self.path in files else 404)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def serve(self, path: str, content: bytes, content_type: str = "application/octet-stream") -> str:
        self.files[path] = (content, content_type)
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def url_missing(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/missing.mp3"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    server = FileServer()
    yield server
    server.close()


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    catcher = CallbackReceiver()
    yield catcher
    catcher.close()

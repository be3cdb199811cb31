"""SandboxRuntime: everything one sandbox app owns, and the small in-memory books it keeps beside the task store.

- ``SandboxRuntime``: the task store, task clock, callback dispatcher, faults and books, started together and
  stopped together; routes reach it with ``current_runtime()``.
- ``accept_submission``: how every paid submit creates its task and answers, the ambiguous fault included.
- The books: ``RequestLog`` (the upstream requests received, for tests), ``PersonaBook``, ``ExportBoard``
  (when each export was first asked for) and ``MediaCache`` (generated files, made lazily).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple

from flask import Flask, Response, current_app

from .callback_delivery import CallbackDispatcher, CallbackSettings
from .faults import FaultPlan
from .task_building import Submission
from .task_clock import TaskClock
from .task_records import PersonaRecord, TaskRecord
from .task_store import TaskStore
from .validation import PersonaFacts, success_response

EXTENSION_KEY = "hookline_sandbox"
MAX_CACHED_FILES = 512


class SandboxRuntime:
    """The state and background threads of one sandbox app, kept in ``app.extensions``."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.stop_event = threading.Event()
        self.store = TaskStore()
        self.faults = FaultPlan(config["FAULTS"], config["FAULT_SEED"])
        self.requests = RequestLog()
        self.media = MediaCache()
        self.personas = PersonaBook()
        self.exports = ExportBoard()
        self.callback_settings = CallbackSettings(
            timeout=float(config["CALLBACK_TIMEOUT"]),
            retries=int(config["CALLBACK_RETRIES"]),
            retry_delay=float(config["CALLBACK_RETRY_DELAY"]),
        )
        self.dispatcher = CallbackDispatcher(
            self.faults, self.callback_settings, self.store.note_callback, self.stop_event
        )
        self.clock = TaskClock(self.store, self.dispatcher.announce, self.stop_event)
        self.dispatcher.start()
        self.clock.start()

    def submission(self, body: dict[str, Any], notify_hook: str, request_base_url: str) -> Submission:
        return Submission(
            request=body,
            notify_hook=notify_hook,
            media_base_url=self.config["MEDIA_BASE_URL"] or request_base_url,
            now=time.time(),
            step_seconds=float(self.config["STEP_SECONDS"]),
            clip_seconds=float(self.config["CLIP_SECONDS"]),
        )

    def accept(self, task: TaskRecord) -> None:
        """Store a new task and start its clock."""
        self.store.add(task)
        if task.plan:
            self.clock.schedule(task.task_id, task.plan[0].due)

    def pause(self, seconds: float) -> None:
        """Sleep in a request thread, but wake at once when the sandbox shuts down."""
        if seconds > 0:
            self.stop_event.wait(seconds)

    def reset(self) -> None:
        self.clock.clear()
        self.dispatcher.clear()
        self.store.clear()
        self.requests.clear()
        self.media.clear()
        self.personas.clear()
        self.exports.clear()

    def shutdown(self) -> None:
        self.stop_event.set()
        self.clock.stop()
        self.dispatcher.stop()

    @property
    def stopped(self) -> bool:
        return self.stop_event.is_set()


def runtime_of(app: Flask) -> SandboxRuntime:
    runtime: SandboxRuntime = app.extensions[EXTENSION_KEY]
    return runtime


def current_runtime() -> SandboxRuntime:
    return runtime_of(current_app)


def hold_if_ambiguous(runtime: SandboxRuntime, task_id: str) -> None:
    """Under the ambiguous fault (paid submits only), keep the client waiting past its read timeout."""
    if runtime.faults.roll("ambiguous_rate"):
        runtime.store.mark_ambiguous(task_id)
        runtime.pause(runtime.faults.value("ambiguous_sleep"))


def accept_submission(runtime: SandboxRuntime, task: TaskRecord) -> Response:
    """Create the task and answer ``{"code":"success","message":"","data":"<task_id>"}``."""
    runtime.accept(task)
    hold_if_ambiguous(runtime, task.task_id)
    return success_response(task.task_id)


# --- the books -------------------------------------------------------------------------------------------------


class RequestLog:
    """The upstream requests the sandbox received, for tests to inspect (never the Authorization header)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def record(self, method: str, path: str, body: Any) -> dict[str, Any]:
        """Log a request as it arrives; `status` is filled in once it is answered (None until then)."""
        entry = {"method": method, "path": path, "json": body, "time": time.time(), "status": None}
        with self._lock:
            self._entries.append(entry)
        return entry

    def note_status(self, entry: dict[str, Any], status: int) -> None:
        with self._lock:
            entry["status"] = status

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class PersonaBook:
    """Personas made with /suno/persona/create, kept for artist_consistency to look up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._personas: dict[str, PersonaRecord] = {}

    def add(self, persona: PersonaRecord) -> None:
        with self._lock:
            self._personas[persona.persona_id] = persona

    def facts(self, persona_id: str) -> PersonaFacts | None:
        with self._lock:
            persona = self._personas.get(persona_id.strip())
        if persona is None:
            return None
        return PersonaFacts(persona.persona_id, persona.root_clip_id, persona.root_model_name)

    def clear(self) -> None:
        with self._lock:
            self._personas.clear()


class ExportProgress(NamedTuple):
    export_id: str  # the id a "running" answer gives to poll with (poll the same GET again)
    done: bool


class ExportBoard:
    """GET exports (wav, midi, mp4, timing) take a while upstream: the first request for a (kind, clip) starts
    the export, and it answers "running" until `wait` seconds (STEP_SECONDS) have passed since then."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: dict[tuple[str, str], tuple[str, float]] = {}

    def progress(self, kind: str, clip_id: str, now: float, wait: float) -> ExportProgress:
        """The first request always answers running; later ones are done once `wait` seconds have passed."""
        key = (kind, clip_id)
        with self._lock:
            started = self._started.get(key)
            if started is None:
                export_id = str(uuid.uuid4())
                self._started[key] = (export_id, now)
                return ExportProgress(export_id, False)
        export_id, since = started
        return ExportProgress(export_id, now - since >= wait)

    def started_as(self, export_id: str) -> tuple[str, str] | None:
        """(kind, clip_id) of the export that answered ``export_id``, or None."""
        with self._lock:
            return next((key for key, (known, _) in self._started.items() if known == export_id), None)

    def clear(self) -> None:
        with self._lock:
            self._started.clear()


class MediaCache:
    """Generated media (MP3s, PNGs, exported files) kept in memory, made lazily on first request."""

    def __init__(self, max_items: int = MAX_CACHED_FILES) -> None:
        self._lock = threading.Lock()
        self._files: OrderedDict[str, bytes] = OrderedDict()
        self._max_items = max_items

    def get_or_make(self, key: str, make: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key in self._files:
                self._files.move_to_end(key)
                return self._files[key]
        content = make()  # outside the lock: making one file must not hold up serving the others
        with self._lock:
            self._files[key] = content
            while len(self._files) > self._max_items:
                self._files.popitem(last=False)
        return content

    def clear(self) -> None:
        with self._lock:
            self._files.clear()

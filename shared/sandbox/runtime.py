"""SandboxRuntime: the store, clock, callback dispatcher, faults and logs one sandbox app owns."""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Flask, current_app

from .callback_delivery import CallbackDispatcher, CallbackSettings
from .export_board import ExportBoard
from .fault_plan import FaultPlan
from .media_cache import MediaCache
from .persona_book import PersonaBook
from .request_log import RequestLog
from .task_builder import Submission
from .task_clock import TaskClock
from .task_records import TaskRecord
from .task_store import TaskStore

EXTENSION_KEY = "hookline_sandbox"


class SandboxRuntime:
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
    return app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def current_runtime() -> SandboxRuntime:
    return runtime_of(current_app)

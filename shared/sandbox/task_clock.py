"""The background thread that moves tasks through their planned states in real time."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

from .task_store import StepOutcome, TaskStore

log = logging.getLogger(__name__)

# Upper bound on one wait, so a stop request or a clock jump is noticed promptly.
MAX_WAIT_SECONDS = 0.5


class TaskClock:
    """Keeps a heap of (due time, task id); when a change falls due it is applied and announced.

    One thread applies every change, in due order, so the announcements of one task leave in order."""

    def __init__(self, store: TaskStore, announce: Callable[[StepOutcome], None], stop: threading.Event) -> None:
        self._store = store
        self._announce = announce
        self._stop = stop
        self._heap: list[tuple[float, int, str]] = []
        self._counter = itertools.count()
        self._wakeup = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="sandbox-task-clock", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def schedule(self, task_id: str, due: float) -> None:
        with self._wakeup:
            heapq.heappush(self._heap, (due, next(self._counter), task_id))
            self._wakeup.notify()

    def clear(self) -> None:
        with self._wakeup:
            self._heap.clear()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        with self._wakeup:
            self._wakeup.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _take_due(self) -> list[str]:
        with self._wakeup:
            while not self._stop.is_set():
                now = time.time()
                if self._heap and self._heap[0][0] <= now:
                    due_ids = []
                    while self._heap and self._heap[0][0] <= now:
                        due_ids.append(heapq.heappop(self._heap)[2])
                    return due_ids
                wait = self._heap[0][0] - now if self._heap else MAX_WAIT_SECONDS
                self._wakeup.wait(min(wait, MAX_WAIT_SECONDS))
            return []

    def _run(self) -> None:
        while not self._stop.is_set():
            for task_id in self._take_due():
                try:
                    self._advance(task_id)
                except Exception:  # one bad task must not stop the clock for the others
                    log.exception("sandbox: advancing task %s failed", task_id)

    def _advance(self, task_id: str) -> None:
        outcome = self._store.advance_due(task_id, time.time())
        if outcome is None:
            return  # a stale entry: the task is gone (reset) or has nothing due
        if outcome.next_due is not None:
            self.schedule(task_id, outcome.next_due)
        self._announce(outcome)

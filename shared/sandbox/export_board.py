"""GET exports (wav, midi, mp4, timing) take a while upstream: the first request for a (kind, clip) starts
the export, and it answers "running" until wait seconds (STEP_SECONDS) have passed since then."""

from __future__ import annotations

import threading
import uuid
from typing import NamedTuple


class ExportProgress(NamedTuple):
    export_id: str  # the id a "running" answer gives to poll with (poll the same GET again)
    done: bool


class ExportBoard:
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

    def clear(self) -> None:
        with self._lock:
            self._started.clear()

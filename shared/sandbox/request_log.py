"""The upstream requests the sandbox received, for tests to inspect (never the Authorization header)."""

from __future__ import annotations

import threading
import time
from typing import Any


class RequestLog:
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

"""Generated media (MP3s, PNGs) kept in memory, made lazily on first request."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

MAX_CACHED_FILES = 512


class MediaCache:
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

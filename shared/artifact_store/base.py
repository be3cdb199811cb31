"""The artifact store interface: whole objects written from a stream of chunks, read back whole or by byte range.

Keys are relative (``<job_id>/<file name>``); a backend adds its own root or prefix. A ``put`` is atomic: readers
see the whole object or none (a temporary file renamed into place; an S3 upload that only exists once complete).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator

from shared.errors import HooklineError

CHUNK_BYTES = 64 * 1024
_KEY = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


class StoreError(HooklineError):
    """The artifact store cannot be reached or refused an operation (message names the store, never credentials)."""


def check_key(key: str) -> str:
    """A key is plain segments (the names ``safe_name`` makes), never ``..`` or absolute: it cannot leave its root."""
    if not _KEY.fullmatch(key) or any(part in (".", "..") for part in key.split("/")):
        raise StoreError(f"not a valid artifact key: {key[:80]!r}")
    return key


class ArtifactStore(ABC):
    """One interface, one module per backend (``file``, ``s3``), chosen by HOOKLINE_ARTIFACT_STORE."""

    #: The store's URL as configured (``file:///…`` or ``s3://bucket/prefix``); holds no credentials.
    url: str

    @abstractmethod
    def put(self, key: str, chunks: Iterable[bytes], content_type: str | None) -> None:
        """Write the object from ``chunks`` (consumed once, never held whole); an exception leaves no object."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """The stored object's size in bytes, or None when there is none."""

    @abstractmethod
    def read(self, key: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """The bytes ``[start, stop)`` of the object, in chunks (``stop`` None: to the end)."""

    def signed_url(self, key: str, *, expires: int, content_type: str, filename: str) -> str | None:
        """A short-lived URL that serves the object without our credentials, or None where the backend has none."""
        return None

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object if it exists."""

    def read_all(self, key: str, limit: int) -> bytes | None:
        """The whole object if it is at most ``limit`` bytes (small JSON files), else None."""
        size = self.size(key)
        if size is None or size > limit:
            return None
        return b"".join(self.read(key))

"""The file store (``file:///path``, the default ``var/artifacts``): one file per key under a root folder."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from shared.artifact_store.base import CHUNK_BYTES, ArtifactStore, StoreError, check_key


def write_atomically(chunks: Iterable[bytes], dest: Path) -> None:
    """Write ``chunks`` to ``dest`` through a temporary file renamed into place: readers see all of it or none."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(partial, dest)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


class FileStore(ArtifactStore):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.url = "file://" + str(self.root)

    def path(self, key: str) -> Path:
        """The key's file; a symlink placed in the folder that points outside it is refused, never followed."""
        path = self.root / check_key(key)
        if path.is_symlink() and not path.resolve().is_relative_to(self.root):
            raise StoreError(f"artifact key {key[:80]!r} is a link out of the store")
        return path

    def put(self, key: str, chunks: Iterable[bytes], content_type: str | None) -> None:
        write_atomically(chunks, self.path(key))

    def size(self, key: str) -> int | None:
        path = self.path(key)
        return path.stat().st_size if path.is_file() else None

    def read(self, key: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        with self.path(key).open("rb") as fh:
            fh.seek(start)
            left = None if stop is None else max(stop - start, 0)
            while left is None or left > 0:
                chunk = fh.read(CHUNK_BYTES if left is None else min(CHUNK_BYTES, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def delete(self, key: str) -> None:
        """Remove the file, then its folders up to the root once they are empty (a pruned job leaves no folder)."""
        path = self.path(key)
        path.unlink(missing_ok=True)
        for folder in path.parents:
            if folder == self.root or not folder.is_relative_to(self.root):
                break
            try:
                folder.rmdir()  # only when empty
            except OSError:
                break

"""The artifact store, chosen by HOOKLINE_ARTIFACT_STORE: ``file:///path`` (default ``var/artifacts``) or
``s3://bucket/prefix``. Backends: ``file`` (``FileStore``) and ``s3`` (``S3Store``, boto3)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from shared.artifact_store.base import ArtifactStore, StoreError, check_key
from shared.config import Settings, artifact_store_url

__all__ = ["ArtifactStore", "StoreError", "check_key", "open_store"]


def open_store(settings: Settings) -> ArtifactStore:
    """The configured store (one client per process and configuration: boto3 clients are thread-safe)."""
    return _store(artifact_store_url(settings), settings.s3_region, settings.s3_endpoint_url)


@lru_cache(maxsize=8)
def _store(url: str, region: str | None, endpoint_url: str | None) -> ArtifactStore:
    if url.startswith("s3://"):
        from shared.artifact_store.s3 import S3Store

        return S3Store(url, region=region, endpoint_url=endpoint_url)
    from shared.artifact_store.file import FileStore

    return FileStore(Path(unquote(urlsplit(url).path)))

"""The files a finished job produced, and keeping them: one Artifact row per source URL, each file an object in the
artifact store (``shared.artifact_store``) under the key ``<job_id>/<file name>``.

Sources are the clips' media (audio, covers, video) and, for GET exports, what the worker stored as
``job.result = {"export": <the upstream's answer>}``: a URL to download (wav, mp4, midi files) and, where the
operation's record says so (midi, timing), the answer itself kept as ``<operation>.json`` under the synthetic source
``result:<operation>``.

``download_job_artifacts`` is idempotent: (job_id, source_url) is unique, stored rows whose object is still in the
store (same size) are skipped, whichever host stored them; refused/failed/pending ones are tried again. Downloads
stream from the upstream into the store (sha256 and size computed on the way) outside any transaction, so a slow CDN
never holds a database lock.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from shared.artifact_store import ArtifactStore, StoreError, open_store
from shared.artifact_store.file import FileStore
from shared.cometapi import REGISTRY
from shared.config import Settings
from shared.db import open_session
from shared.models import Artifact, Job
from shared.net.safe_fetch import DownloadFailed, DownloadRefused, Resolver, fetch_into, system_resolve
from shared.states import JobStatus

# Clip field -> (artifact kind, file-name tag, default extension).
CLIP_MEDIA: tuple[tuple[str, str, str, str], ...] = (
    ("audio_url", "audio", "", "mp3"),
    ("image_url", "image", "", "jpeg"),
    ("image_large_url", "image", "-large", "jpeg"),
    ("video_url", "video", "", "mp4"),
)
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,5})$")


@dataclass(frozen=True)
class Source:
    """One thing to keep: a URL to download, or (``payload`` set) JSON from the job result."""

    kind: str
    clip_id: str | None
    url: str
    filename: str
    payload: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class Outcome:
    status: str  # stored | refused | failed
    key: str | None = None
    size: int | None = None
    sha256: str | None = None
    content_type: str | None = None
    error: str | None = None


def safe_name(text: str) -> str:
    """A file-name stem that cannot climb out of its folder (upstream ids are not trusted)."""
    return _UNSAFE.sub("_", text).strip("_")[:100] or "item"


def _extension(url: str, default: str) -> str:
    found = _EXTENSION.search(urlsplit(url).path)
    return found.group(1).lower() if found else default


def _urls_in(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _urls_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _urls_in(item)


def _clip_sources(job: Job) -> Iterator[Source]:
    for clip in job.clips:
        stem = safe_name(clip.clip_id)
        for attribute, kind, tag, default_ext in CLIP_MEDIA:
            url = getattr(clip, attribute)
            if url:
                ext = default_ext if kind == "audio" else _extension(url, default_ext)
                yield Source(kind, clip.clip_id, url, f"{stem}{tag}.{ext}")


def _export_sources(job: Job) -> Iterator[Source]:
    answer = (job.result or {}).get("export")
    operation = REGISTRY.get(job.operation)
    artifact = operation.artifact if operation is not None else None
    if artifact is None or answer is None:
        return
    clip_id = (job.params or {}).get("clip_id")
    clip_id = clip_id if isinstance(clip_id, str) and clip_id else None
    if artifact.keeps_answer:
        yield Source(artifact.kind, clip_id, f"result:{job.operation}", f"{job.operation}.json", payload=answer)
    if not artifact.fetches_files:
        return
    stem = safe_name(clip_id) if clip_id else artifact.kind
    for n, url in enumerate(dict.fromkeys(_urls_in(answer))):
        name = f"{stem}{'' if n == 0 else f'-{n + 1}'}.{_extension(url, artifact.extension)}"
        yield Source(artifact.kind, clip_id, url, name)


def artifact_sources(job: Job) -> list[Source]:
    """Every file the job produced, one per distinct URL (Suno often gives the same URL for both covers)."""
    by_url: dict[str, Source] = {}
    names: set[str] = set()
    for source in [*_clip_sources(job), *_export_sources(job)]:
        if source.url in by_url:
            continue
        name, n = source.filename, 1
        while name in names:  # two sources, one name: keep both files
            n += 1
            stem, dot, ext = source.filename.rpartition(".")
            name = f"{stem}-{n}{dot}{ext}"
        names.add(name)
        by_url[source.url] = Source(source.kind, source.clip_id, source.url, name, source.payload)
    return list(by_url.values())


def _put_json(payload: Any, key: str, store: ArtifactStore) -> Outcome:
    data = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False).encode()
    store.put(key, [data], "application/json")
    return Outcome("stored", key, len(data), hashlib.sha256(data).hexdigest(), "application/json")


def artifact_key(job_id: str, filename: str) -> str:
    return f"{safe_name(job_id)}/{filename}"


def obtain(source: Source, key: str, store: ArtifactStore, settings: Settings,
           resolve: Resolver = system_resolve) -> Outcome:
    """Write or stream one source into the store at ``key``; refusals and failures come back as an Outcome."""
    try:
        if source.payload is not None:
            return _put_json(source.payload, key, store)
        fetched = fetch_into(source.url, lambda chunks: store.put(key, chunks, None), settings,
                             max_bytes=settings.max_artifact_bytes, timeout=settings.read_timeout, resolve=resolve)
    except DownloadRefused as exc:
        return Outcome("refused", error=exc.reason)
    except DownloadFailed as exc:
        return Outcome("failed", error=exc.reason)
    except StoreError as exc:
        return Outcome("failed", error=str(exc))
    except OSError as exc:  # the disk, not the network: full, read-only, permissions
        return Outcome("failed", error=f"cannot write {key}: {exc}")
    return Outcome("stored", key, fetched.size, fetched.sha256, fetched.content_type)


def record_outcomes(settings: Settings, job_id: str, outcomes: list[tuple[Source, Outcome]],
                    store: ArtifactStore) -> list[Artifact]:
    """Insert or update the job's (job, source_url) rows, all in one transaction; a concurrent run's insert is
    updated, a stored row never undone. Returns every artifact row of the job, in id order."""
    for _ in range(2):
        with open_session(settings) as session:
            rows = {row.source_url: row for row in session.scalars(select(Artifact).where(Artifact.job_id == job_id))}
            for source, outcome in outcomes:
                row = rows.get(source.url)
                if row is None:
                    row = rows[source.url] = Artifact(job_id=job_id, source_url=source.url)
                    session.add(row)
                elif outcome.status != "stored" and still_stored(row, store, unknown=True):
                    continue
                row.kind, row.clip_id = source.kind, source.clip_id
                row.status, row.error = outcome.status, outcome.error
                row.storage_key, row.size, row.sha256 = outcome.key, outcome.size, outcome.sha256
                row.path = local_path(store, outcome.key) if outcome.key else None
                row.content_type = outcome.content_type
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # another run inserted a row first: update theirs on the next pass
                continue
            return sorted(rows.values(), key=lambda row: row.id)
    with open_session(settings) as session:
        return list(session.scalars(select(Artifact).where(Artifact.job_id == job_id).order_by(Artifact.id)))


def local_path(store: ArtifactStore, key: str) -> str | None:
    """The file's path on this host for the file store (kept in ``path`` for readers of older versions), else None."""
    return str(store.path(key)) if isinstance(store, FileStore) else None


def stored_key(row: Artifact, store: ArtifactStore) -> str | None:
    """The row's key in the store; rows written before the store existed have only a path under the file root."""
    if row.storage_key:
        return row.storage_key
    if row.path and isinstance(store, FileStore):
        path = Path(row.path).resolve()
        return str(path.relative_to(store.root)) if path.is_relative_to(store.root) else None
    return None


def still_stored(row: Artifact, store: ArtifactStore, *, unknown: bool = False) -> bool:
    """A stored row whose object is in the store with the recorded size (``unknown``: the answer when the store
    cannot be asked right now)."""
    key = stored_key(row, store) if row.status == "stored" else None
    if key is None:
        return False
    try:
        size = store.size(key)
    except StoreError:
        return unknown
    return size is not None and (row.size is None or size == row.size)


def download_job_artifacts(settings: Settings, job_id: str, *, resolve: Resolver = system_resolve) -> list[Artifact]:
    """Keep every file of a succeeded job in the store under ``<job_id>/``; returns the job's artifact rows.

    Two transactions a job: the first reads the job and announces a ``pending`` row for every file about to be
    fetched (so readers can tell "still coming" from "none", and a run that dies mid-download leaves rows that keep
    the job's follow-up deadline: nothing is lost, the reconciler runs it again); the second records every outcome.
    """
    store = open_store(settings)
    with open_session(settings) as session:
        job = session.scalar(select(Job).where(Job.id == job_id).options(selectinload(Job.clips)))
        if job is None or job.status != JobStatus.SUCCEEDED.value:
            return []
        sources = artifact_sources(job)
        rows = list(session.scalars(select(Artifact).where(Artifact.job_id == job_id)))
        kept = {row.source_url for row in rows if still_stored(row, store)}
        missing = [s for s in sources if s.url not in {row.source_url for row in rows}]
        if missing:  # one multi-row INSERT, not one statement a file
            session.execute(insert(Artifact), [{"job_id": job_id, "source_url": source.url, "kind": source.kind,
                                                "clip_id": source.clip_id, "status": "pending"} for source in missing])
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # a concurrent run announced them first
    outcomes = [(source, obtain(source, artifact_key(job_id, source.filename), store, settings, resolve))
                for source in sources if source.url not in kept]
    if not outcomes:
        return sorted(rows, key=lambda row: row.id)
    return record_outcomes(settings, job_id, outcomes, store)


def remove_stored(store: ArtifactStore, key: str) -> int | None:
    """Delete one stored object (``hookline prune``); its size, or None when it was already gone. Keys cannot leave
    the store's root (``check_key``), so a row never makes prune delete anything else."""
    size = store.size(key)
    if size is None:
        return None
    store.delete(key)
    return size

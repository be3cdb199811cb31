"""The files a finished job produced, and keeping them: one Artifact row per source URL, files under artifact_dir.

Sources are the clips' media (audio, covers, video) and, for GET exports, what the worker stored as
``job.result = {"export": <the upstream's answer>}``: a URL to download (wav, mp4, midi files) and, where the
operation's record says so (midi, timing), the answer itself kept as ``<operation>.json`` under the synthetic source
``result:<operation>``.

``download_job_artifacts`` is idempotent: (job_id, source_url) is unique, stored rows whose file is still on disk are
skipped, refused/failed/pending ones are tried again. Downloads run outside any transaction so a slow CDN never holds
a database lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from shared.cometapi import REGISTRY
from shared.config import Settings
from shared.db import open_session
from shared.models import Artifact, Job
from shared.net.safe_fetch import DownloadFailed, DownloadRefused, Resolver, fetch_to_file, system_resolve
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
    path: str | None = None
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


def _write_json(payload: Any, dest: Path) -> Outcome:
    data = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False).encode()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(partial, dest)
    return Outcome("stored", str(dest), len(data), hashlib.sha256(data).hexdigest(), "application/json")


def obtain(source: Source, dest: Path, settings: Settings, resolve: Resolver = system_resolve) -> Outcome:
    """Write or download one source to ``dest``; refusals and failures come back as an Outcome, not raised."""
    if source.payload is not None:
        return _write_json(source.payload, dest)
    try:
        fetched = fetch_to_file(source.url, dest, settings, max_bytes=settings.max_artifact_bytes,
                                timeout=settings.read_timeout, resolve=resolve)
    except DownloadRefused as exc:
        return Outcome("refused", error=exc.reason)
    except DownloadFailed as exc:
        return Outcome("failed", error=exc.reason)
    except OSError as exc:  # the disk, not the network: full, read-only, permissions
        return Outcome("failed", error=f"cannot write {dest.name}: {exc}")
    return Outcome("stored", str(fetched.path), fetched.size, fetched.sha256, fetched.content_type)


def record_outcome(settings: Settings, job_id: str, source: Source, outcome: Outcome) -> None:
    """Insert or update the (job, source_url) row; a concurrent run's insert is updated, a stored row never undone."""
    for _ in range(2):
        with open_session(settings) as session:
            row = session.scalar(select(Artifact).where(Artifact.job_id == job_id, Artifact.source_url == source.url))
            if row is None:
                row = Artifact(job_id=job_id, source_url=source.url)
                session.add(row)
            elif outcome.status != "stored" and _still_stored(row):
                return
            row.kind, row.clip_id, row.status, row.error = source.kind, source.clip_id, outcome.status, outcome.error
            row.path, row.size, row.sha256, row.content_type = (outcome.path, outcome.size, outcome.sha256,
                                                                 outcome.content_type)
            try:
                session.commit()
                return
            except IntegrityError:
                session.rollback()  # another run inserted the row first: update theirs on the next pass


def _announce(settings: Settings, job_id: str, sources: list[Source]) -> None:
    """A ``pending`` row for every file about to be fetched, so readers can tell "still coming" from "none"."""
    with open_session(settings) as session:
        known = set(session.scalars(select(Artifact.source_url).where(Artifact.job_id == job_id)))
        for source in sources:
            if source.url not in known:
                session.add(Artifact(job_id=job_id, source_url=source.url, kind=source.kind, clip_id=source.clip_id,
                                     status="pending"))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()  # a concurrent run announced them first


def _still_stored(row: Artifact) -> bool:
    return row.status == "stored" and bool(row.path) and Path(row.path or "").is_file()


def download_job_artifacts(settings: Settings, job_id: str, *, resolve: Resolver = system_resolve) -> list[Artifact]:
    """Keep every file of a succeeded job under ``artifact_dir/<job_id>/``; returns the job's artifact rows."""
    with open_session(settings) as session:
        job = session.scalar(select(Job).where(Job.id == job_id).options(selectinload(Job.clips)))
        if job is None or job.status != JobStatus.SUCCEEDED.value:
            return []
        sources = artifact_sources(job)
        kept = {row.source_url for row in session.scalars(select(Artifact).where(Artifact.job_id == job_id))
                if _still_stored(row)}
    _announce(settings, job_id, [s for s in sources if s.url not in kept])
    job_dir = artifact_root(settings) / safe_name(job_id)
    for source in sources:
        if source.url not in kept:
            record_outcome(settings, job_id, source, obtain(source, job_dir / source.filename, settings, resolve))
    with open_session(settings) as session:
        return list(session.scalars(select(Artifact).where(Artifact.job_id == job_id).order_by(Artifact.id)))


def artifact_root(settings: Settings) -> Path:
    """The folder every stored artifact lives under (HOOKLINE_ARTIFACT_DIR, default var/artifacts)."""
    return Path(settings.artifact_dir or Path(settings.var_dir) / "artifacts").resolve()


def remove_artifact_file(settings: Settings, path: str) -> int | None:
    """Delete one stored artifact file (``hookline prune``); its size, or None when it was already gone. A path
    outside the artifact folder is refused (ValueError): a row never makes prune delete another file. The job's
    folder goes too once it is empty."""
    root = artifact_root(settings)
    target = Path(path).resolve()
    if root not in target.parents:
        raise ValueError(f"not under the artifact folder {root}")
    try:
        size = target.stat().st_size
        target.unlink()
    except FileNotFoundError:
        return None
    if target.parent != root:
        try:
            target.parent.rmdir()  # only when empty
        except OSError:
            pass
    return size

"""Serving a stored artifact over HTTP, from whichever store holds it: the API route and the dashboard's players.

- ``ETag`` is the sha256 (``If-None-Match`` answers 304); ``Content-Length`` and ``Accept-Ranges: bytes`` always.
- One byte range (``Range: bytes=a-b``, ``a-``, ``-n``) answers 206 with ``Content-Range``; a range past the end
  answers 416 with ``Content-Range: bytes */size``; several ranges, or an ``If-Range`` that is not the current
  ETag, answer the whole file (RFC 9110 allows both).
- With ``HOOKLINE_ARTIFACT_REDIRECT=1`` and a store that signs URLs (S3), a 302 to a URL valid ``SIGNED_URL_SECONDS``.
- Only audio, video, common images, JSON and plain text are served inline; anything else is a download, and every
  answer carries a sandboxing CSP and ``nosniff``, so a stored file can never run script on the receiver's origin.
"""

from __future__ import annotations

import mimetypes
import posixpath

from flask import Response, jsonify, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from shared.artifact_store import ArtifactStore
from shared.config import Settings
from shared.jobs.artifacts import stored_key
from shared.models import Artifact

SIGNED_URL_SECONDS = 300
INLINE_TYPES = ("audio/", "video/", "image/png", "image/jpeg", "image/gif", "image/webp", "application/json",
                "text/plain")
SANDBOX_CSP = "sandbox; default-src 'none'; media-src 'self'; img-src 'self'"


class NotStored(Exception):
    """The artifact has no object in the store (pending, refused, failed, or deleted from the store)."""


def content_type_of(artifact: Artifact, name: str) -> str:
    return artifact.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"


def artifact_response(artifact: Artifact, store: ArtifactStore, settings: Settings) -> BaseResponse:
    """The file, a part of it, 304, 416 or a redirect; raises NotStored (StoreError when the store is down)."""
    key = stored_key(artifact, store) if artifact.status == "stored" else None
    size = store.size(key) if key else None
    if key is None or size is None:
        raise NotStored(artifact.status)
    name = posixpath.basename(key)
    content_type = content_type_of(artifact, name)
    inline = content_type.startswith(INLINE_TYPES)
    served_type = content_type if inline else "application/octet-stream"
    etag = artifact.sha256 or f"{size}-{artifact.id}"
    headers = {"ETag": f'"{etag}"', "Accept-Ranges": "bytes", "Cache-Control": "private, max-age=0",
               "Content-Security-Policy": SANDBOX_CSP, "X-Content-Type-Options": "nosniff",
               "Content-Disposition": f"{'inline' if inline else 'attachment'}; filename=\"{name}\""}
    if etag in request.if_none_match:
        return Response(status=304, headers=headers)
    if settings.artifact_redirect:
        signed = store.signed_url(key, expires=SIGNED_URL_SECONDS, content_type=served_type, filename=name)
        if signed:
            moved = redirect(signed, 302)
            moved.headers["Cache-Control"] = "no-store"
            return moved
    ranges = request.range
    if_range = request.headers.get("If-Range")
    if ranges is not None and len(ranges.ranges) == 1 and (if_range is None or if_range.strip('"') == etag):
        span = ranges.range_for_length(size)
        if span is None:
            unsatisfiable = jsonify({"error": {"code": "range_not_satisfiable",
                                               "message": f"the range starts past the end ({size} bytes)"}})
            unsatisfiable.status_code = 416
            unsatisfiable.headers.update({"Content-Range": f"bytes */{size}", "ETag": headers["ETag"]})
            return unsatisfiable
        start, stop = span
        headers.update({"Content-Range": f"bytes {start}-{stop - 1}/{size}", "Content-Length": str(stop - start)})
        return Response(store.read(key, start, stop), 206, headers=headers, content_type=served_type)
    headers["Content-Length"] = str(size)
    return Response(store.read(key), 200, headers=headers, content_type=served_type)

"""Jobs: the filtered, paged list; one job's page; and its stored files (only from under settings.artifact_dir)."""

from __future__ import annotations

import mimetypes

from flask import abort, render_template, request, send_file
from flask.typing import ResponseReturnValue

from shared.admission.priority import priority_name
from shared.admission.views import queue_position
from shared.models import Artifact, Job
from shared.redaction import redact_secrets
from webhook.context import db_session, settings
from webhook.dashboard.auth import current_viewer
from webhook.dashboard.blueprint import dashboard
from webhook.dashboard.job_details import artifact_path, job_details
from webhook.dashboard.job_queries import STATUSES, JobFilters, list_jobs

# Served inline; anything else (HTML, SVG, unknown) is a download, so a stored file can never run script here.
INLINE_TYPES = ("audio/", "video/", "image/png", "image/jpeg", "image/gif", "image/webp", "application/json",
                "text/plain", "audio/midi")


@dashboard.get("/jobs")
def jobs() -> ResponseReturnValue:
    filters = JobFilters.from_args(request.args)
    with db_session() as session:
        page = list_jobs(session, current_viewer(), filters)
    return render_template("dashboard/jobs.html", page=page, filters=filters, statuses=STATUSES)


@dashboard.get("/jobs/<job_id>")
def job(job_id: str) -> ResponseReturnValue:
    with db_session() as session:
        found = session.get(Job, job_id)
        if found is None or not current_viewer().may_see(found.api_key_id):
            abort(404)
        details = job_details(session, settings(), found)
        result = redact_secrets({k: v for k, v in (found.result or {}).items() if k != "lyrics"})
        return render_template("dashboard/job.html", d=details, job=found, result=result,
                               queue=queue_position(session, found), priority=priority_name(found.priority))


def _content_type(artifact: Artifact, name: str) -> str:
    return artifact.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"


@dashboard.get("/artifacts/<int:artifact_id>")
def artifact_file(artifact_id: int) -> ResponseReturnValue:
    with db_session() as session:
        artifact = session.get(Artifact, artifact_id)
        owner = session.get(Job, artifact.job_id).api_key_id if artifact is not None else None  # type: ignore[union-attr]
    if artifact is None or not current_viewer().may_see(owner):
        abort(404)
    path = artifact_path(settings(), artifact)
    if path is None:
        abort(404)
    content_type = _content_type(artifact, path.name)
    inline = content_type.startswith(INLINE_TYPES)
    response = send_file(path, mimetype=content_type if inline else "application/octet-stream",
                         as_attachment=not inline, download_name=path.name, conditional=True, max_age=0)
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; media-src 'self'; img-src 'self'"
    return response

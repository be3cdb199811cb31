"""Jobs: the filtered, paged list; one job's page; and its stored files, served from the artifact store exactly as
the API's ``GET /v1/jobs/<id>/artifacts/<aid>`` serves them (``webhook.artifact_files``: ranges, ETag, redirect)."""

from __future__ import annotations

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue

from shared.admission.priority import priority_name
from shared.admission.views import queue_position
from shared.artifact_store import StoreError, open_store
from shared.models import Artifact, Job
from shared.redaction import redact_secrets
from webhook.artifact_files import NotStored, artifact_response
from webhook.context import db_session, settings
from webhook.dashboard.auth import current_viewer
from webhook.dashboard.blueprint import dashboard
from webhook.dashboard.job_details import job_details
from webhook.dashboard.job_queries import STATUSES, JobFilters, list_jobs


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


@dashboard.get("/artifacts/<int:artifact_id>")
def artifact_file(artifact_id: int) -> ResponseReturnValue:
    with db_session() as session:
        artifact = session.get(Artifact, artifact_id)
        owner = session.get(Job, artifact.job_id).api_key_id if artifact is not None else None  # type: ignore[union-attr]
        if artifact is not None:
            session.expunge(artifact)
    if artifact is None or not current_viewer().may_see(owner):
        abort(404)
    try:
        return artifact_response(artifact, open_store(settings()), settings())
    except NotStored:
        abort(404)
    except StoreError:
        abort(503)

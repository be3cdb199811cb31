"""The Python producer API: validate, write the job to SQL, commit, and only then enqueue."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from shared.cometapi import validate_request
from shared.config import Settings, load_settings
from shared.db import session_factory
from shared.errors import BadRequest, NotFound, ValidationError
from shared.job_view import job_json
from shared.models import Job, utcnow

log = logging.getLogger("hookline.producer")

OPERATIONS = ("music", "lyrics")


def validate_job(operation: Any, params: Any) -> dict[str, Any]:
    """The payload to send upstream, or ValidationError naming the field. Nothing is written."""
    if operation not in OPERATIONS:
        raise ValidationError(f"unknown operation {operation!r}; expected one of {', '.join(OPERATIONS)}", field="operation")
    if not isinstance(params, dict):
        raise ValidationError("params must be a JSON object", field="params")
    try:
        return validate_request(operation, params)
    except BadRequest as exc:
        raise ValidationError(exc.message, field=f"params.{exc.field}" if exc.field else "params") from exc


def submit_job(operation: str, params: dict[str, Any], *, settings: Settings | None = None) -> str:
    """Accept one job: returns its id once it is safely in the database and enqueued (or will be, by the reconciler)."""
    settings = settings or load_settings()
    payload = validate_job(operation, params)
    now = utcnow()
    job = Job(
        operation=operation, params=payload, status="queued", created_at=now, updated_at=now,
        # If the enqueue below is lost, the reconciler re-enqueues the job after this.
        next_check_at=now + timedelta(seconds=settings.queued_grace),
    )
    with session_factory(settings)() as session:
        session.add(job)
        session.commit()
    from worker.dispatch import enqueue_submit

    try:
        enqueue_submit(settings, job.id)
    except Exception:  # noqa: BLE001 - the job is accepted; the reconciler will enqueue it
        log.exception("enqueue of job %s failed; the reconciler will retry it", job.id)
    return job.id


def get_job(job_id: str, *, settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or load_settings()
    with session_factory(settings)() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}")
        return job_json(job)

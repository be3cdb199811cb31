"""The Python producer API: validate, write the job to SQL, commit, and only then enqueue."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from shared.cometapi import OPERATIONS, REGISTRY, validate_request
from shared.cometapi.field_rules import DEFAULT_TEXT_LIMITS, TextLimits
from shared.cometapi.validation import request_warnings, text_limits_of
from shared.config import Settings, load_settings
from shared.db import open_session
from shared.errors import BadRequest, NotFound, ValidationError
from shared.jobs.clip_checks import check_known_clips
from shared.jobs.views import job_json
from shared.models import Job, utcnow

log = logging.getLogger("hookline.producer")


NUL_MESSAGE = "contains a NUL character (\\x00), which cannot be stored"


def nul_path(value: Any, path: str = "") -> str | None:
    """The dotted name of the first string or key in ``value`` holding a NUL character (PostgreSQL text cannot
    store one), or None. Iterative, so nesting of any depth is walked."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            return where
        children = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        for key, child in reversed(list(children)):
            name = f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}" if where else str(key)
            if "\x00" in str(key):
                return name.replace("\x00", "\\x00")
            stack.append((name, child))
    return None


def validate_job(operation: Any, params: Any, *, where: str | None = None,
                 text_limits: TextLimits = DEFAULT_TEXT_LIMITS) -> dict[str, Any]:
    """The payload to send upstream, or ValidationError naming the field. Nothing is written. ``text_limits``: the
    configured lengths of prompt, tags and title (``text_limits_of(settings)``); the defaults when not given."""
    if not isinstance(operation, str) or operation not in REGISTRY:
        raise ValidationError(
            f"unknown operation {operation!r}; expected one of {', '.join(OPERATIONS)}", field="operation", where=where
        )
    if not isinstance(params, dict):
        raise ValidationError("params must be a JSON object", field="params", where=where)
    bad = nul_path(params, "params")
    if bad is not None:
        raise ValidationError(NUL_MESSAGE, field=bad, where=where)
    try:
        return validate_request(operation, params, text_limits=text_limits)
    except BadRequest as exc:
        field = f"params.{exc.field}" if exc.field and exc.field != "operation" else (exc.field or "params")
        raise ValidationError(exc.message, field=field, where=where) from exc


def add_job(session: Session, settings: Settings, operation: str, params: dict[str, Any], **links: Any) -> Job:
    """Validate and add one queued job row to ``session`` (not committed). ``links``: pipeline_id, step_name,
    fan_index, bulk_id, api_key_id, callback_url. Enqueue with ``enqueue_jobs`` after the commit."""
    payload = validate_job(operation, params, text_limits=text_limits_of(settings))
    if links.get("pipeline_id") is None:  # a pipeline step was checked when it was bound (dispatching)
        check_known_clips(session, operation, payload)  # what pipelines check, for single jobs too
    now = utcnow()
    job = Job(
        operation=operation, params=payload, status="queued", created_at=now, updated_at=now,
        warnings=request_warnings(operation, params) or None,
        # If the enqueue after the commit is lost, the reconciler re-enqueues the job after this.
        next_check_at=now + timedelta(seconds=settings.queued_grace), **links,
    )
    session.add(job)
    return job


def enqueue_jobs(settings: Settings, job_ids: list[str]) -> None:
    """Enqueue committed jobs. A failure loses nothing: the reconciler enqueues queued jobs that never ran.

    Not through the outbox (``shared.outbox``), on purpose: a queued job row already is its own outbox entry (its
    ``next_check_at`` makes ``requeue_lost`` send it again), and that holds for single jobs, pipeline steps
    (``shared.pipelines.runs``) and bulk chunks (``shared.tasks.enqueue_submits``) alike.
    """
    from shared.tasks import enqueue_submit

    for job_id in job_ids:
        try:
            enqueue_submit(settings, job_id)
        except Exception:  # noqa: BLE001
            log.exception("enqueue of job %s failed; the reconciler will retry it", job_id)


def submit_job(operation: str, params: dict[str, Any], *, settings: Settings | None = None, **links: Any) -> str:
    """Accept one job: returns its id once it is safely in the database and enqueued."""
    settings = settings or load_settings()
    with open_session(settings) as session:
        job = add_job(session, settings, operation, params, **links)
        session.commit()
        job_id = job.id
    enqueue_jobs(settings, [job_id])
    return job_id


def get_job(job_id: str, *, settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or load_settings()
    with open_session(settings) as session:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}")
        return job_json(job)

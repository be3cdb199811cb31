"""The Python producer API: validate, write the job to SQL, commit, and only then enqueue."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from shared.admission import BULK, INTERACTIVE, PIPELINE, admit_quietly, parse_priority
from shared.admission.priority import LOCAL_OWNER
from shared.cometapi import OPERATIONS, REGISTRY, validate_request
from shared.cometapi.field_rules import DEFAULT_TEXT_LIMITS, TextLimits
from shared.cometapi.validation import request_warnings, text_limits_of
from shared.config import Settings, load_settings
from shared.db import open_session
from shared.errors import BadRequest, NotFound, ValidationError
from shared.jobs.clip_checks import check_known_clips
from shared.jobs.views import job_json
from shared.models import ApiKey, BulkBatch, Job, Pipeline, utcnow

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


def add_job(session: Session, settings: Settings, operation: str, params: dict[str, Any], *,
            priority: Any = None, **links: Any) -> Job:
    """Validate and add one queued job row to ``session`` (not committed). ``links``: pipeline_id, step_name,
    fan_index, bulk_id, api_key_id, callback_url. ``priority``: interactive | pipeline | bulk | an integer; None:
    the pipeline's or batch's, else the API key's default, else by kind (``shared.admission.priority``). Admit
    with ``enqueue_jobs`` after the commit."""
    payload = validate_job(operation, params, text_limits=text_limits_of(settings))
    if links.get("pipeline_id") is None:  # a pipeline step was checked when it was bound (dispatching)
        check_known_clips(session, operation, payload)  # what pipelines check, for single jobs too
    chosen = None if priority is None else parse_priority(priority)
    now = utcnow()
    job = Job(operation=operation, params=payload, status="queued", created_at=now, updated_at=now,
              warnings=request_warnings(operation, params) or None,
              # Waiting for admission: no message and no deadline; the admission step sets both.
              next_check_at=None, **links)
    job.owner = job.api_key_id or LOCAL_OWNER
    job.queue_group, job.priority = _queue_of(session, job, chosen)
    session.add(job)
    return job


def _queue_of(session: Session, job: Job, chosen: int | None) -> tuple[str, int]:
    """The job's queue group (its bulk batch, else its pipeline, else "" for single jobs) and priority."""
    pipeline = session.get(Pipeline, job.pipeline_id) if job.pipeline_id else None
    bulk_id = job.bulk_id or (pipeline.bulk_id if pipeline is not None else None)
    batch = session.get(BulkBatch, bulk_id) if bulk_id else None
    group = bulk_id or job.pipeline_id or ""
    if chosen is not None:
        return group, chosen
    if pipeline is not None and pipeline.priority is not None:
        return group, pipeline.priority
    if batch is not None:
        return group, BULK if batch.priority is None else batch.priority
    if pipeline is not None:
        return group, PIPELINE
    key = session.get(ApiKey, job.api_key_id) if job.api_key_id else None
    return group, key.default_priority if key is not None and key.default_priority is not None else INTERACTIVE


def enqueue_jobs(settings: Settings, job_ids: list[str]) -> None:
    """After committing new queued jobs: run the admission step, which sends as many as the limits allow (these
    or older ones, by priority and fair share). Never raises: a job that is not admitted now waits as its row,
    and the next step (when a slot frees, at the latest the beat sweep's) takes it."""
    if job_ids:
        admit_quietly(settings)


def submit_job(operation: str, params: dict[str, Any], *, settings: Settings | None = None, priority: Any = None,
               **links: Any) -> str:
    """Accept one job: returns its id once it is safely in the database (and admitted, when a slot is free)."""
    settings = settings or load_settings()
    with open_session(settings) as session:
        job = add_job(session, settings, operation, params, priority=priority, **links)
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

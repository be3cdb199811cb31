"""The producer HTTP API under /v1: jobs here; pipelines, bulk and costs in their own modules; the OpenAPI
document at /openapi.json. Errors are ``{"error": {"code", "message", "field"?}}`` with a 4xx status; bad input is
never a 500. Callers and what they see: webhook/api_auth.py. Idempotency-Key: webhook/idempotency.py.

Job retry makes a NEW job with the same params (the old one keeps its history and gains ``result.retried_as``);
only failed or canceled jobs can be retried, so a succeeded job is never paid for twice, and a job is retried once
(retry the new job to go again). Cancel is a compare-and-set to ``canceled``; the upstream has no cancel, so a
task already submitted still runs (and is still charged), and its later callbacks are ignored.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, jsonify, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, selectinload
from werkzeug.exceptions import HTTPException

from shared.errors import NotFound, ValidationError
from shared.job_view import job_json
from shared.models import Attempt, Job, utcnow
from shared.producer import add_job, enqueue_jobs
from shared.states import JobStatus, transition
from webhook.api_auth import ApiError, error_body, error_response, principal, require_principal
from webhook.api_listing import check_query, next_cursor, page, query_choices, query_limit, query_time
from webhook.context import db_session, settings
from webhook.idempotency import Reply, run_idempotent

log = logging.getLogger("hookline.api")
api = Blueprint("api", __name__, url_prefix="/v1")
JOB_FIELDS = ("operation", "params", "callback_url")
RETRYABLE = frozenset({JobStatus.FAILED.value, JobStatus.CANCELED.value})


@api.before_request
def authenticate_caller() -> None:
    require_principal()


@api.errorhandler(ApiError)
def api_error(exc: ApiError) -> ResponseReturnValue:
    return error_response(exc)


@api.errorhandler(ValidationError)
def validation_error(exc: ValidationError) -> ResponseReturnValue:
    return jsonify(error_body("invalid", exc.message, exc.field)), 400


@api.errorhandler(NotFound)
def not_found(exc: NotFound) -> ResponseReturnValue:
    return jsonify(error_body("not_found", str(exc))), 404


@api.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> ResponseReturnValue:
    code = (exc.name or "error").lower().replace(" ", "_")
    return jsonify(error_body(code, exc.description or exc.name or "error")), exc.code or 400


@api.errorhandler(Exception)
def unexpected_error(exc: Exception) -> ResponseReturnValue:
    log.exception("unexpected error in %s %s", request.method, request.path)
    return jsonify(error_body("internal", "internal error; it was logged")), 500


def json_object(allowed: tuple[str, ...], *, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object, with no field outside ``allowed`` (400 naming the first stranger)."""
    if optional and not request.get_data(cache=True).strip():
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "body must be a JSON object (Content-Type: application/json)")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, "invalid", f"unknown field {unknown[0]!r}", unknown[0])
    return body


def callback_url_of(body: dict[str, Any]) -> str | None:
    from shared.outgoing import check_callback_url

    value = body.get("callback_url")
    return None if value is None else check_callback_url(settings(), value)


def api_job(job: Job) -> dict[str, Any]:
    return {**job_json(job), "callback_url": job.callback_url, "bulk_id": job.bulk_id}


def visible_job(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None or not principal().can_see(job.api_key_id):
        raise ApiError(404, "not_found", f"no job {job_id!r}")
    return job


@api.post("/jobs")
def create_job() -> ResponseReturnValue:
    body = json_object(JOB_FIELDS)
    callback_url = callback_url_of(body)
    current = settings()

    def produce(session: Session) -> Reply:
        job = add_job(session, current, body.get("operation"), body.get("params", {}),  # type: ignore[arg-type]
                      api_key_id=principal().api_key_id, callback_url=callback_url)
        session.flush()
        job_id = job.id
        return Reply(202, {"id": job_id}, after_commit=lambda: enqueue_jobs(current, [job_id]))

    with db_session() as session:
        return run_idempotent(session, produce)


@api.get("/jobs/<job_id>")
def read_job(job_id: str) -> ResponseReturnValue:
    check_query(())
    with db_session() as session:
        return jsonify(api_job(visible_job(session, job_id)))


@api.get("/jobs")
def list_jobs() -> ResponseReturnValue:
    from shared.cometapi import OPERATIONS

    check_query(("status", "operation", "pipeline", "bulk", "created_after", "created_before", "limit", "cursor"))
    limit, stmt = query_limit(), select(Job).options(selectinload(Job.clips), selectinload(Job.artifacts))
    if (statuses := query_choices("status", [s.value for s in JobStatus])) is not None:
        stmt = stmt.where(Job.status.in_(statuses))
    if (operations := query_choices("operation", OPERATIONS)) is not None:
        stmt = stmt.where(Job.operation.in_(operations))
    for name, column in (("pipeline", Job.pipeline_id), ("bulk", Job.bulk_id)):
        if (value := request.args.get(name)) is not None:
            stmt = stmt.where(column == value)
    if (after := query_time("created_after")) is not None:
        stmt = stmt.where(Job.created_at > after)
    if (before := query_time("created_before")) is not None:
        stmt = stmt.where(Job.created_at < before)
    with db_session() as session:
        rows = list(session.scalars(page(principal().scope(stmt, Job.api_key_id), Job, limit)))
        return jsonify({"data": [api_job(j) for j in rows[:limit]], "next_cursor": next_cursor(rows, limit)})


@api.post("/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> ResponseReturnValue:
    json_object((), optional=True)
    current = settings()

    def produce(session: Session) -> Reply:
        job = visible_job(session, job_id)
        if job.status != JobStatus.CANCELED.value:
            moved = transition(session, job_id, JobStatus.CANCELED, error="canceled by the producer")
            session.refresh(job)
            if not moved and job.status != JobStatus.CANCELED.value:
                raise ApiError(409, "not_cancelable", f"job is {job.status}; only unfinished jobs can be canceled")
            if moved:  # its follow-ups: the job.canceled event, the pipeline's advance
                from worker.dispatch import enqueue_finished

                return Reply(200, api_job(job), after_commit=lambda: enqueue_finished(current, job_id))
        return Reply(200, api_job(job))

    with db_session() as session:
        return run_idempotent(session, produce)


@api.post("/jobs/<job_id>/retry")
def retry_job(job_id: str) -> ResponseReturnValue:
    json_object((), optional=True)
    current = settings()

    def produce(session: Session) -> Reply:
        old = visible_job(session, job_id)
        if old.status not in RETRYABLE:
            raise ApiError(409, "not_retryable", f"job is {old.status}; only failed or canceled jobs can be retried")
        if old.pipeline_id:
            raise ApiError(409, "not_retryable", f"job is a step of pipeline {old.pipeline_id}; retry the pipeline "
                           f"(POST /v1/pipelines/{old.pipeline_id}/retry)")
        if (earlier := (old.result or {}).get("retried_as")) is not None:
            raise ApiError(409, "already_retried", f"job was already retried as {earlier}; retry that job instead")
        new = add_job(session, current, old.operation, dict(old.params), api_key_id=old.api_key_id,
                      callback_url=old.callback_url)
        session.flush()
        new_id = new.id
        marked = session.execute(
            update(Job).where(Job.id == old.id, Job.status == old.status, Job.updated_at == old.updated_at)
            .values(result={**(old.result or {}), "retried_as": new_id}, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount == 1
        if not marked:
            raise ApiError(409, "conflict", "the job changed while it was being retried; try again")
        body: dict[str, Any] = {"id": new_id, "retry_of": old.id}
        if session.scalar(select(exists().where(Attempt.job_id == old.id, Attempt.outcome == "ambiguous"))):
            body["warning"] = "an earlier submit of this job was ambiguous and may have been charged"
        return Reply(202, body, after_commit=lambda: enqueue_jobs(current, [new_id]))

    with db_session() as session:
        return run_idempotent(session, produce)


def routing_error(exc: HTTPException) -> ResponseReturnValue:
    """No route (404) or method (405) under /v1 or /hooks: the JSON error shape there, Flask's page elsewhere."""
    if request.path.startswith(("/v1/", "/hooks/")) or request.path == "/v1":
        return http_error(exc)
    return exc


def json_routing_errors(state: BlueprintSetupState) -> None:
    for code in (404, 405):
        state.app.register_error_handler(code, routing_error)


def _register_parts() -> None:
    from webhook.api_bulk import bulk, costs
    from webhook.api_pipelines import pipelines
    from webhook.openapi import register_openapi

    api.register_blueprint(pipelines)
    api.register_blueprint(bulk)
    api.register_blueprint(costs)
    register_openapi(api)
    api.record_once(json_routing_errors)


_register_parts()

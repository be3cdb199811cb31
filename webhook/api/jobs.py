"""/v1/jobs: create, read, list, cancel and retry single jobs.

Job retry makes a NEW job with the same params (the old one keeps its history and gains ``result.retried_as``);
only failed or canceled jobs can be retried, so a succeeded job is never paid for twice, and a job is retried once
(retry the new job to go again). Cancel is a compare-and-set to ``canceled``; the upstream has no cancel, so a
task already submitted still runs (and is still charged), and its later callbacks are ignored.
"""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import CursorResult, exists, select, update
from sqlalchemy.orm import Session, selectinload

from shared.admission.views import queue_position
from shared.artifact_store import StoreError, open_store
from shared.jobs.finishing import finish_job
from shared.jobs.views import job_json
from shared.models import Artifact, Attempt, Job, utcnow
from shared.outbox import relay
from shared.producer import add_job, enqueue_jobs
from shared.states import AttemptOutcome, JobStatus
from webhook.api.auth import ApiError, principal
from webhook.api.bodies import callback_url_of, json_object
from webhook.api.idempotency import Reply, run_idempotent
from webhook.api.listing import check_query, next_cursor, page, query_choices, query_limit, query_time
from webhook.api.openapi_artifacts import MAX_ARTIFACT_ID
from webhook.artifact_files import NotStored, artifact_response
from webhook.context import db_session, settings

jobs = Blueprint("jobs", __name__)
JOB_FIELDS = ("operation", "params", "callback_url", "priority")
RETRYABLE = frozenset({JobStatus.FAILED.value, JobStatus.CANCELED.value})


def api_job(job: Job) -> dict[str, Any]:
    return {**job_json(job), "callback_url": job.callback_url, "bulk_id": job.bulk_id, "priority": job.priority,
            "owner": job.owner}


def visible_job(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None or not principal().can_see(job.api_key_id):
        raise ApiError(404, "not_found", f"no job {job_id!r}")
    return job


@jobs.post("/jobs")
def create_job() -> ResponseReturnValue:
    body = json_object(JOB_FIELDS)
    callback_url = callback_url_of(body)
    current = settings()

    def produce(session: Session) -> Reply:
        job = add_job(session, current, body.get("operation"), body.get("params", {}),  # type: ignore[arg-type]
                      api_key_id=principal().api_key_id, callback_url=callback_url, priority=body.get("priority"))
        session.flush()
        job_id = job.id
        return Reply(202, {"id": job_id}, after_commit=lambda: enqueue_jobs(current, [job_id]))

    with db_session() as session:
        return run_idempotent(session, produce)


@jobs.get("/jobs/<job_id>")
def read_job(job_id: str) -> ResponseReturnValue:
    check_query(())
    with db_session() as session:
        job = visible_job(session, job_id)
        return jsonify({**api_job(job), "queue": queue_position(session, job)})


@jobs.get("/jobs/<job_id>/artifacts/<int:artifact_id>")
def read_artifact(job_id: str, artifact_id: int) -> ResponseReturnValue:
    """The stored file (ranges, ETag, or a signed-URL redirect: ``webhook.artifact_files``); the job's owner only."""
    check_query(())
    with db_session() as session:
        visible_job(session, job_id)
        artifact = session.get(Artifact, artifact_id) if artifact_id <= MAX_ARTIFACT_ID else None
        if artifact is None or artifact.job_id != job_id:
            raise ApiError(404, "not_found", f"no artifact {artifact_id} in job {job_id!r}")
        session.expunge(artifact)
    try:
        return artifact_response(artifact, open_store(settings()), settings())
    except NotStored as exc:
        raise ApiError(404, "not_stored", f"artifact {artifact_id} is not stored (status {exc})") from exc
    except StoreError as exc:
        raise ApiError(503, "store_unavailable", "the artifact store cannot be read right now") from exc


@jobs.get("/jobs")
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


@jobs.post("/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> ResponseReturnValue:
    json_object((), optional=True)
    current = settings()

    def produce(session: Session) -> Reply:
        job = visible_job(session, job_id)
        if job.status != JobStatus.CANCELED.value:
            # Its follow-ups (the job.canceled event, the pipeline's advance) commit with the transition, and with
            # the idempotency record; they are relayed after the commit.
            follow_ups = finish_job(session, current, job_id, JobStatus.CANCELED, error="canceled by the producer")
            session.refresh(job)
            if not follow_ups and job.status != JobStatus.CANCELED.value:
                raise ApiError(409, "not_cancelable", f"job is {job.status}; only unfinished jobs can be canceled")
            if follow_ups:
                def relay_follow_ups() -> None:
                    relay(current, follow_ups)

                return Reply(200, api_job(job), after_commit=relay_follow_ups)
        return Reply(200, api_job(job))

    with db_session() as session:
        return run_idempotent(session, produce)


@jobs.post("/jobs/<job_id>/retry")
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
                      callback_url=old.callback_url, priority=old.priority)
        session.flush()
        new_id = new.id
        marked = cast("CursorResult[Any]", session.execute(
            update(Job).where(Job.id == old.id, Job.status == old.status, Job.updated_at == old.updated_at)
            .values(result={**(old.result or {}), "retried_as": new_id}, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )).rowcount == 1
        if not marked:
            raise ApiError(409, "conflict", "the job changed while it was being retried; try again")
        body: dict[str, Any] = {"id": new_id, "retry_of": old.id}
        ambiguous = exists().where(Attempt.job_id == old.id, Attempt.outcome == AttemptOutcome.AMBIGUOUS.value)
        if session.scalar(select(ambiguous)):
            body["warning"] = "an earlier submit of this job was ambiguous and may have been charged"
        return Reply(202, body, after_commit=lambda: enqueue_jobs(current, [new_id]))

    with db_session() as session:
        return run_idempotent(session, produce)

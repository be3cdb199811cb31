"""/v1/pipelines: create from a spec, read, list, cancel, retry — through shared.pipelines.

A key sees only its own pipelines. Cancel stops what has not been paid for (see ``cancel_pipeline``) and sends
the ``pipeline.canceled`` event; retry re-runs the failed, skipped and canceled steps only, never a succeeded one.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

import shared.pipelines as pipeline_runs
from shared.admission import parse_priority
from shared.errors import ValidationError
from shared.jobs.ledger import OverBudget
from shared.models import Pipeline
from shared.pipelines.runs import add_pipeline
from shared.producer import enqueue_jobs
from shared.states import PipelineStatus
from webhook.api.auth import ApiError, principal
from webhook.api.bodies import callback_url_of, json_object
from webhook.api.idempotency import KeepAlive, Reply, run_claimed, run_idempotent
from webhook.api.listing import check_query, next_cursor, page, query_choices, query_limit, query_time
from webhook.context import db_session, settings

pipelines = Blueprint("pipelines", __name__, url_prefix="/pipelines")


def spec_error(exc: ValidationError) -> ApiError:
    errors = (list(exc.errors) if isinstance(exc, pipeline_runs.SpecInvalid) else []) or [exc]
    details = [{"where": e.where, "field": e.field, "message": e.message} for e in errors]
    first = errors[0]
    field = ".".join(p for p in (first.where, first.field) if p) or None
    return ApiError(400, "invalid_spec", str(exc).splitlines()[0], field, details)


def over_budget_error(exc: OverBudget) -> ApiError:
    """402: the work's cost estimate exceeds what a daily budget has left (nothing was written)."""
    details = [{"estimated_cost_usd": round(exc.estimate_usd, 6), "remaining_usd": round(exc.remaining_usd, 6),
                "budget": exc.budget}]
    return ApiError(402, "over_budget", exc.message, "budget", details)


def visible_pipeline(session: Session, pipeline_id: str) -> Pipeline:
    pipeline = session.get(Pipeline, pipeline_id)
    if pipeline is None or not principal().can_see(pipeline.api_key_id):
        raise ApiError(404, "not_found", f"no pipeline {pipeline_id!r}")
    return pipeline


def api_pipeline(session: Session, pipeline: Pipeline) -> dict[str, Any]:
    data = dict(pipeline_runs.pipeline_json(session, pipeline))
    return {**data, "callback_url": pipeline.callback_url, "bulk_id": pipeline.bulk_id}


@pipelines.post("")
def create_pipeline() -> ResponseReturnValue:
    body = json_object(("spec", "name", "callback_url", "priority"))
    priority = None if body.get("priority") is None else parse_priority(body["priority"])
    if not isinstance(body.get("spec"), dict):
        raise ApiError(400, "invalid", "must be a pipeline spec object with a `steps` mapping", "spec")
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 128):
        raise ApiError(400, "invalid", "must be a string of at most 128 characters", "name")
    callback_url, current = callback_url_of(body), settings()

    def produce(session: Session) -> Reply:
        try:
            new = add_pipeline(session, current, body["spec"], name=name, api_key_id=principal().api_key_id,
                               callback_url=callback_url, priority=priority)
        except OverBudget as exc:
            raise over_budget_error(exc) from None
        except ValidationError as exc:
            raise spec_error(exc) from None
        return Reply(202, {"id": new.id, **new.estimate.as_json()}, after_commit=lambda: enqueue_jobs(current,
                                                                                                       new.job_ids))

    with db_session() as session:  # the key, the pipeline, its steps and first jobs: one transaction
        return run_idempotent(session, produce)


@pipelines.get("/<pipeline_id>")
def read_pipeline(pipeline_id: str) -> ResponseReturnValue:
    check_query(())
    with db_session() as session:
        return jsonify(api_pipeline(session, visible_pipeline(session, pipeline_id)))


@pipelines.get("")
def list_pipelines() -> ResponseReturnValue:
    check_query(("status", "bulk", "created_after", "created_before", "limit", "cursor"))
    limit, stmt = query_limit(), select(Pipeline)
    if (statuses := query_choices("status", [s.value for s in PipelineStatus])) is not None:
        stmt = stmt.where(Pipeline.status.in_(statuses))
    if (bulk_id := request.args.get("bulk")) is not None:
        stmt = stmt.where(Pipeline.bulk_id == bulk_id)
    if (after := query_time("created_after")) is not None:
        stmt = stmt.where(Pipeline.created_at > after)
    if (before := query_time("created_before")) is not None:
        stmt = stmt.where(Pipeline.created_at < before)
    with db_session() as session:
        rows = list(session.scalars(page(principal().scope(stmt, Pipeline.api_key_id), Pipeline, limit)))
        data = [api_pipeline(session, p) for p in rows[:limit]]
        return jsonify({"data": data, "next_cursor": next_cursor(rows, limit)})


@pipelines.post("/<pipeline_id>/cancel")
def cancel_pipeline(pipeline_id: str) -> ResponseReturnValue:
    from shared.outgoing import emit_pipeline_event

    json_object((), optional=True)

    def produce(_keep_alive: KeepAlive) -> Reply:
        with db_session() as session:
            status = visible_pipeline(session, pipeline_id).status
        if status not in (PipelineStatus.RUNNING, PipelineStatus.CANCELED):
            raise ApiError(409, "not_cancelable", f"pipeline is {status}; only a running pipeline can be canceled")
        pipeline_runs.cancel_pipeline(settings(), pipeline_id)
        emit_pipeline_event(settings(), pipeline_id)
        with db_session() as session:
            return Reply(200, api_pipeline(session, visible_pipeline(session, pipeline_id)))

    return run_claimed(produce)


@pipelines.post("/<pipeline_id>/retry")
def retry_pipeline(pipeline_id: str) -> ResponseReturnValue:
    body = json_object(("overrides",), optional=True)
    overrides = body.get("overrides")
    if overrides is not None and not isinstance(overrides, dict):
        raise ApiError(400, "invalid", 'must be an object of {"var": value, "step.param": value}', "overrides")

    def produce(_keep_alive: KeepAlive) -> Reply:
        with db_session() as session:
            visible_pipeline(session, pipeline_id)
        try:
            job_ids = pipeline_runs.retry_pipeline(settings(), pipeline_id, overrides=overrides)
        except pipeline_runs.SpecInvalid as exc:
            raise spec_error(exc) from None
        except ValidationError as exc:
            if "nothing to retry" in exc.message:
                raise ApiError(409, "not_retryable", exc.message) from None
            raise ApiError(400, "invalid", exc.message, exc.field or "overrides") from None
        return Reply(202, {"id": pipeline_id, "jobs": list(job_ids)})

    return run_claimed(produce)

"""Pipelines: the list, one pipeline's DAG with each step's state and jobs, and the retry / cancel buttons.

The buttons call ``shared.pipelines.retry_pipeline`` / ``cancel_pipeline``. A step's own Retry button re-runs every
failed, skipped and canceled step of the pipeline, as the pipeline's button does: a retry takes no step list.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.errors import HooklineError
from shared.models import Job, Pipeline, PipelineStep
from shared.pipelines import cancel_pipeline, retry_pipeline
from shared.states import STEP_BROKEN, PipelineStatus
from webhook.context import db_session, settings
from webhook.dashboard.auth import current_viewer
from webhook.dashboard.blueprint import dashboard
from webhook.dashboard.pipeline_graph import layout

log = logging.getLogger("hookline.dashboard")
PAGE_SIZE = 50
PIPELINE_STATUSES = [s.value for s in PipelineStatus]
ACTIONS: dict[str, Callable[[Settings, str], object]] = {"retry": retry_pipeline, "cancel": cancel_pipeline}
SCOPES = {"retry": "every failed, skipped or canceled step", "cancel": "the pipeline"}
RETRYABLE_STEPS = {s.value for s in STEP_BROKEN}


@dashboard.get("/pipelines")
def pipelines() -> ResponseReturnValue:
    status = request.args.get("status", "")
    status = status if status in PIPELINE_STATUSES else ""
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    with db_session() as session:
        stmt = current_viewer().scope(select(Pipeline), Pipeline.api_key_id)
        if status:
            stmt = stmt.where(Pipeline.status == status)
        total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(page, pages)
        rows = list(session.scalars(stmt.order_by(Pipeline.created_at.desc(), Pipeline.id.desc())
                                    .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
        step_counts: dict[str, dict[str, int]] = defaultdict(dict)
        if rows:
            for pid, step_status, count in session.execute(
                select(PipelineStep.pipeline_id, PipelineStep.status, func.count())
                .where(PipelineStep.pipeline_id.in_([p.id for p in rows]))
                .group_by(PipelineStep.pipeline_id, PipelineStep.status)
            ):
                step_counts[pid][step_status] = count
    return render_template("dashboard/pipelines.html", rows=rows, step_counts=step_counts, status=status,
                           statuses=PIPELINE_STATUSES, page=page, pages=pages, total=total)


def _load_visible(session: Session, pipeline_id: str) -> Pipeline:
    found = session.get(Pipeline, pipeline_id)
    if found is None or not current_viewer().may_see(found.api_key_id):
        abort(404)
    return found


@dashboard.get("/pipelines/<pipeline_id>")
def pipeline(pipeline_id: str) -> ResponseReturnValue:
    with db_session() as session:
        found = _load_visible(session, pipeline_id)
        steps = list(found.steps)
        jobs_by_step: dict[str, list[Job]] = defaultdict(list)
        for job in session.scalars(select(Job).where(Job.pipeline_id == pipeline_id).order_by(Job.created_at)):
            jobs_by_step[job.step_name or ""].append(job)
        graph = layout(steps, found.spec)
        status = PipelineStatus(found.status)
        return render_template(
            "dashboard/pipeline.html", pipeline=found, steps=steps, jobs_by_step=jobs_by_step, graph=graph,
            retryable_steps=RETRYABLE_STEPS, can_cancel=status is PipelineStatus.RUNNING,
            can_retry=status in (PipelineStatus.FAILED, PipelineStatus.CANCELED),
        )


@dashboard.post("/pipelines/<pipeline_id>/<action>")
def pipeline_act(pipeline_id: str, action: str) -> ResponseReturnValue:
    if action not in ACTIONS:
        abort(404)
    with db_session() as session:
        _load_visible(session, pipeline_id)
    try:
        ACTIONS[action](settings(), pipeline_id)
    except HooklineError as exc:
        flash(f"{action} failed: {exc}", "error")
    else:
        log.info("dashboard: %s of pipeline %s (%s) by %s", action, pipeline_id, SCOPES[action], current_viewer().name,
                 extra={"pipeline_id": pipeline_id})
        flash(f"{action} requested for {SCOPES[action]}", "ok")
    return redirect(url_for("dashboard.pipeline", pipeline_id=pipeline_id))

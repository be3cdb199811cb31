"""Pipelines: the list, one pipeline's DAG with each step's state and jobs, and the retry / cancel buttons.

The actions call ``shared.pipelines.retry_pipeline`` / ``cancel_pipeline(settings, pipeline_id)``, imported when
used: while that module (or the function) is missing the buttons are shown disabled, and a POST answers 501.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import math
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from shared.errors import HooklineError
from shared.models import Job, Pipeline, PipelineStep
from webhook.context import db_session, settings
from webhook.dashboard.auth import current_viewer
from webhook.dashboard.blueprint import dashboard
from webhook.dashboard.pipeline_graph import layout

log = logging.getLogger("hookline.dashboard")
PAGE_SIZE = 50
PIPELINE_STATUSES = ("running", "succeeded", "failed", "canceled")
ACTIONS = {"retry": "retry_pipeline", "cancel": "cancel_pipeline"}
RETRYABLE_STEPS = {"failed", "canceled", "skipped"}


def pipeline_action(action: str) -> Callable[..., Any] | None:
    """shared.pipelines' function for ``action``, or None while it is not there."""
    try:
        module = importlib.import_module("shared.pipelines")
    except ModuleNotFoundError as exc:
        if exc.name != "shared.pipelines":
            raise  # the module exists but is broken: show that, do not hide it as "not ready"
        return None
    return getattr(module, ACTIONS[action], None)


@dashboard.get("/pipelines")
def pipelines():  # type: ignore[no-untyped-def]
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


def _load_visible(session: Any, pipeline_id: str) -> Pipeline:
    found = session.get(Pipeline, pipeline_id)
    if found is None or not current_viewer().may_see(found.api_key_id):
        abort(404)
    return found


@dashboard.get("/pipelines/<pipeline_id>")
def pipeline(pipeline_id: str):  # type: ignore[no-untyped-def]
    with db_session() as session:
        found = _load_visible(session, pipeline_id)
        steps = list(found.steps)
        jobs_by_step: dict[str, list[Job]] = defaultdict(list)
        for job in session.scalars(select(Job).where(Job.pipeline_id == pipeline_id).order_by(Job.created_at)):
            jobs_by_step[job.step_name or ""].append(job)
        graph = layout(steps, found.spec)
        return render_template(
            "dashboard/pipeline.html", pipeline=found, steps=steps, jobs_by_step=jobs_by_step, graph=graph,
            can_retry=pipeline_action("retry") is not None, can_cancel=pipeline_action("cancel") is not None,
            retryable_steps=RETRYABLE_STEPS,
        )


def _call(action: str, function: Callable[..., Any], pipeline_id: str, step: str | None) -> str:
    """Pass the step along when the function takes one; otherwise every failed, skipped or canceled step re-runs.
    Returns what was asked for, for the message."""
    parameters = inspect.signature(function).parameters
    if step and "step" in parameters:
        function(settings(), pipeline_id, step=step)
        return f"step {step}"
    if step and "steps" in parameters:
        function(settings(), pipeline_id, steps=[step])
        return f"step {step}"
    function(settings(), pipeline_id)
    return "every failed, skipped or canceled step" if action == "retry" else "the pipeline"


@dashboard.post("/pipelines/<pipeline_id>/<action>")
def pipeline_act(pipeline_id: str, action: str):  # type: ignore[no-untyped-def]
    if action not in ACTIONS:
        abort(404)
    with db_session() as session:
        _load_visible(session, pipeline_id)
    function = pipeline_action(action)
    if function is None:
        abort(501, description=f"{action} is not available yet (shared.pipelines.{ACTIONS[action]} is missing)")
    step = request.form.get("step") or None
    try:
        scope = _call(action, function, pipeline_id, step)
    except HooklineError as exc:
        flash(f"{action} failed: {exc}", "error")
    else:
        log.info("dashboard: %s of pipeline %s (%s) by %s", action, pipeline_id, scope, current_viewer().name,
                 extra={"pipeline_id": pipeline_id})
        flash(f"{action} requested for {scope}", "ok")
    return redirect(url_for("dashboard.pipeline", pipeline_id=pipeline_id))

"""Dispatch one ready step: bind its params from its sources' jobs, validate, and add its job(s) — or fail it.

Runs inside the advancer's transaction. The step row moves by compare-and-set on (status, generation), so the
jobs are only added by the advancer that won the move. A step whose inputs do not bind or do not validate fails
with the reason and no upstream call is made.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from shared.cometapi.validation import text_limits_of
from shared.config import Settings
from shared.errors import ValidationError
from shared.jobs.clip_checks import check_known_clips
from shared.models import Job, Pipeline, PipelineStep
from shared.pipelines.bindings import ClipOutput, JobOutput, bind_step
from shared.pipelines.spec import StepSpec
from shared.producer import add_job, validate_job
from shared.states import JobStatus, StepStatus

log = logging.getLogger("hookline.pipelines")

# A job of a re-run step is kept (not paid for again) unless it ended in one of these, or its params changed.
RERUN_STATUSES = frozenset({JobStatus.FAILED, JobStatus.CANCELED})


def set_step_status(session: Session, row: PipelineStep, from_status: StepStatus, to_status: StepStatus, *,
                    reason: str | None = None, **fields: Any) -> bool:
    """Compare-and-set one step row; True when this call moved it. The caller commits."""
    result = session.execute(
        update(PipelineStep)
        .where(PipelineStep.id == row.id, PipelineStep.status == from_status.value,
               PipelineStep.generation == row.generation)
        .values(status=to_status.value, reason=reason, **fields)
        .execution_options(synchronize_session=False)
    )
    return cast("CursorResult[Any]", result).rowcount == 1


def job_output(job: Job) -> JobOutput:
    clips = tuple(ClipOutput(c.clip_id, c.duration, c.position) for c in job.clips if c.status != "error")
    return JobOutput(job.id, job.fan_index, job.upstream_task_id, clips, job.result or {}, job.params or {})


def dispatch_step(session: Session, settings: Settings, pipeline: Pipeline, step: StepSpec, row: PipelineStep,
                  step_jobs: Mapping[str, list[Job]], now: datetime) -> list[str]:
    """Create the jobs of a ready step (ids returned), or fail the step with the reason (no jobs)."""
    sources = [job_output(j) for j in step_jobs.get(step.source, [])] if step.source else None
    personas = [job_output(j) for j in step_jobs.get(step.persona, [])] if step.persona else None
    where = f"step {step.name}"
    try:
        bound = bind_step(step, sources, personas)
        if len(bound) > settings.max_fan_out:  # known only now that the source's clips are in: start none of them
            raise ValidationError(f"would start {len(bound)} jobs; a step may fan out to at most "
                                  f"{settings.max_fan_out} (raise it with HOOKLINE_MAX_FAN_OUT)", field="pick")
        limits = text_limits_of(settings)
        payloads = [(b.fan_index, validate_job(step.operation, b.params, where=where, text_limits=limits))
                    for b in bound]
        for _, payload in payloads:  # a time past a known clip's end, a persona from a non-chirp-auk song
            check_known_clips(session, step.operation, payload, where=where)
    except ValidationError as exc:
        reason = f"{exc.field}: {exc.message}" if exc.field else exc.message
        if set_step_status(session, row, StepStatus.PENDING, StepStatus.FAILED, reason=reason, finished_at=now):
            log.warning("pipeline %s step %s failed before sending: %s", pipeline.id, step.name, reason)
        return []
    if not set_step_status(session, row, StepStatus.PENDING, StepStatus.DISPATCHED, dispatched_at=now,
                           finished_at=None):
        return []  # another advancer dispatched it
    existing = {job.fan_index: job for job in step_jobs.get(step.name, [])}
    created: list[Job] = []
    for fan_index, payload in payloads:
        kept = existing.get(fan_index)
        if kept is not None and kept.status not in RERUN_STATUSES and kept.params == payload:
            continue
        created.append(add_job(session, settings, step.operation, payload, pipeline_id=pipeline.id,
                               step_name=step.name, fan_index=fan_index, api_key_id=pipeline.api_key_id))
    session.flush()
    return [job.id for job in created]

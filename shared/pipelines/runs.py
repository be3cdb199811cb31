"""Pipelines in the database: create, advance, retry, cancel; and the reconciler's sweep for stalled ones.

Every change happens under the pipeline's row lock (an ``UPDATE pipelines … WHERE id=?`` as the transaction's
first statement: a row lock on Postgres, the write lock on SQLite), so two advancers of one pipeline queue up
instead of interleaving. On top of that, every step change is a compare-and-set on ``(status, generation)``
with a rowcount check, so even an advancer working from stale rows never creates a step's jobs twice.
Jobs are enqueued only after the commit; a lost enqueue is picked up by the reconciler (queued jobs).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, selectinload

from shared.config import Settings
from shared.db import open_session
from shared.errors import NotFound, ValidationError
from shared.jobs.ledger import check_estimate
from shared.models import Job, Pipeline, PipelineStep, utcnow
from shared.pipelines.dag import StepRow, current_jobs, job_rows, plan_advance
from shared.pipelines.dispatching import dispatch_step, set_step_status
from shared.pipelines.estimate import CostEstimate, estimate_spec
from shared.pipelines.spec import SpecInvalid, SpecLimits, apply_overrides, parse_spec
from shared.producer import enqueue_jobs
from shared.states import JobStatus, PipelineStatus, StepStatus, transition

log = logging.getLogger("hookline.pipelines")


def _next_check(settings: Settings, now: datetime) -> datetime:
    return now + timedelta(seconds=settings.queued_grace)


def _lock(session: Session, pipeline_id: str, now: datetime) -> Pipeline:
    """Take the pipeline's row lock for the rest of this transaction, then read it fresh."""
    result = session.execute(
        update(Pipeline).where(Pipeline.id == pipeline_id).values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if cast("CursorResult[Any]", result).rowcount != 1:
        raise NotFound(f"no pipeline {pipeline_id!r}")
    pipeline = session.get(Pipeline, pipeline_id, populate_existing=True)
    assert pipeline is not None
    return pipeline


def _load(session: Session, pipeline_id: str) -> tuple[dict[str, PipelineStep], list[Job]]:
    steps = session.scalars(
        select(PipelineStep).where(PipelineStep.pipeline_id == pipeline_id).execution_options(populate_existing=True)
    ).all()
    jobs = session.scalars(
        select(Job).where(Job.pipeline_id == pipeline_id).options(selectinload(Job.clips))
        .execution_options(populate_existing=True)
    ).all()
    return {s.name: s for s in steps}, list(jobs)


def _finish(session: Session, pipeline_id: str, status: PipelineStatus, error: str | None, now: datetime) -> None:
    session.execute(
        update(Pipeline).where(Pipeline.id == pipeline_id, Pipeline.status == PipelineStatus.RUNNING.value)
        .values(status=status.value, error=error, finished_at=now, next_check_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    log.info("pipeline %s %s%s", pipeline_id, status.value, f": {error}" if error else "")


def _advance_locked(session: Session, settings: Settings, pipeline: Pipeline, now: datetime) -> list[str]:
    """Apply plans until nothing changes: finish steps, skip dependents, dispatch ready steps, settle the status."""
    try:
        spec = parse_spec(pipeline.spec, SpecLimits.of(settings))
    except SpecInvalid as exc:  # stored valid, but the rules changed since: stop here rather than fail every sweep
        _finish(session, pipeline.id, PipelineStatus.FAILED, f"the stored spec no longer validates: {exc}", now)
        return []
    new_ids: list[str] = []
    for _ in range(2 * len(spec.steps) + 2):  # each round moves at least one step forward, and steps only go forward
        rows, jobs = _load(session, pipeline.id)
        step_rows = {n: StepRow(r.name, r.status, r.reason, r.generation) for n, r in rows.items()}
        plan = plan_advance(spec, step_rows, job_rows(jobs))
        for name, (status, reason) in plan.finished.items():
            set_step_status(session, rows[name], StepStatus.DISPATCHED, status, reason=reason, finished_at=now)
        for name, reason in plan.skipped.items():
            set_step_status(session, rows[name], StepStatus.PENDING, StepStatus.SKIPPED, reason=reason, finished_at=now)
        by_id = {j.id: j for j in jobs}
        step_jobs = {step: [by_id[r.id] for r in current]
                     for step, current in current_jobs(job_rows(jobs)).items()}
        for name in plan.ready:
            new_ids += dispatch_step(session, settings, pipeline, spec.steps[name], rows[name], step_jobs, now)
        if plan.changes_anything:
            continue
        if plan.status is not PipelineStatus.RUNNING:
            _finish(session, pipeline.id, plan.status, plan.error, now)
        else:
            pipeline.next_check_at = _next_check(settings, now)
        break
    return new_ids


class NewPipeline(NamedTuple):
    id: str
    job_ids: list[str]  # its first jobs, to enqueue after the commit
    estimate: CostEstimate  # the most it may cost (fan-out counted at its cap)


def add_pipeline(session: Session, settings: Settings, spec_dict: Any, *, name: str | None = None,
                 api_key_id: str | None = None, callback_url: str | None = None,
                 bulk_id: str | None = None, priority: int | None = None) -> NewPipeline:
    """Validate the whole spec within the configured limits (SpecInvalid lists every error) and check its cost
    estimate against the remaining daily budgets (``OverBudget``); then add the pipeline, its steps and its first
    jobs to the caller's ``session`` and flush; nothing is committed or enqueued. The caller enqueues the first jobs
    after its commit (``shared.producer.enqueue_jobs``)."""
    limits = SpecLimits.of(settings)
    spec = parse_spec(spec_dict, limits)
    estimate = estimate_spec(spec, limits.max_fan_out)
    check_estimate(session, settings, api_key_id, estimate.usd, f"pipeline {name or spec.name or ''}".rstrip())
    now = utcnow()
    pipeline = Pipeline(name=(name or spec.name), spec=spec.document, status=PipelineStatus.RUNNING.value,
                        api_key_id=api_key_id, callback_url=callback_url, bulk_id=bulk_id, created_at=now,
                        updated_at=now, next_check_at=_next_check(settings, now), priority=priority)
    session.add(pipeline)
    for position, step in enumerate(spec.steps.values()):
        session.add(PipelineStep(pipeline=pipeline, name=step.name, position=position, operation=step.op,
                                 status=StepStatus.PENDING.value, generation=0))
    session.flush()
    job_ids = _advance_locked(session, settings, pipeline, now)
    session.flush()
    log.info("pipeline %s created (%d steps, estimated at most $%.3f); first jobs %s", pipeline.id, len(spec.steps),
             estimate.usd, job_ids)
    return NewPipeline(pipeline.id, job_ids, estimate)


def create_pipeline(settings: Settings, spec_dict: Any, *, name: str | None = None, api_key_id: str | None = None,
                    callback_url: str | None = None, bulk_id: str | None = None, priority: int | None = None) -> str:
    """``add_pipeline`` in a transaction of its own: commit, then enqueue the first jobs. Returns the pipeline id."""
    with open_session(settings) as session:
        pipeline_id, job_ids, _ = add_pipeline(session, settings, spec_dict, name=name, api_key_id=api_key_id,
                                               callback_url=callback_url, bulk_id=bulk_id, priority=priority)
        session.commit()
    enqueue_jobs(settings, job_ids)
    return pipeline_id


def advance_pipeline(settings: Settings, pipeline_id: str) -> list[str]:
    """Advance one pipeline as far as its rows allow; returns the ids of the jobs it created (and enqueued).
    Idempotent: with nothing new to act on it changes nothing."""
    now = utcnow()
    with open_session(settings) as session:
        pipeline = _lock(session, pipeline_id, now)
        running = pipeline.status == PipelineStatus.RUNNING
        job_ids = _advance_locked(session, settings, pipeline, now) if running else []
        session.commit()
    # The step jobs are committed as queued: if this publish fails, the reconciler requeues them (no outbox row).
    enqueue_jobs(settings, job_ids)
    return job_ids


def advance_for_job(settings: Settings, job_id: str) -> None:
    """The follow-up after a job turned terminal: advance its pipeline, if it has one."""
    with open_session(settings) as session:
        pipeline_id = session.scalar(select(Job.pipeline_id).where(Job.id == job_id))
    if pipeline_id:
        advance_pipeline(settings, pipeline_id)


def _check_unchanged(old: Mapping[str, Any], new: Mapping[str, Any], succeeded: list[str], limits: SpecLimits) -> None:
    old_spec, new_spec = parse_spec(old, limits), parse_spec(new, limits)
    errors = [
        ValidationError("already succeeded; an override may not change it", field="params", where=f"step {name}")
        for name in succeeded
        if name not in new_spec.steps or old_spec.steps[name] != new_spec.steps[name]
    ]
    if errors:
        raise SpecInvalid(errors)


def retry_pipeline(settings: Settings, pipeline_id: str, *, overrides: Mapping[str, Any] | None = None) -> list[str]:
    """Re-run the failed, skipped and canceled steps: back to pending with generation+1. Succeeded steps keep their
    jobs (nothing is paid twice); a re-run step also keeps any job of its own that succeeded or is still in flight
    with the same params. ``overrides`` (as ``--set``) may change steps that did not succeed. Returns new job ids."""
    now = utcnow()
    with open_session(settings) as session:
        pipeline = _lock(session, pipeline_id, now)
        rows, _ = _load(session, pipeline_id)
        to_retry = [r for r in rows.values() if StepStatus(r.status).broken]
        if not to_retry:
            raise ValidationError(f"nothing to retry: pipeline is {pipeline.status} and no step failed, was skipped "
                                  "or canceled", where=f"pipeline {pipeline_id}")
        if overrides:
            document = apply_overrides(pipeline.spec, overrides)
            succeeded = [r.name for r in rows.values() if r.status == StepStatus.SUCCEEDED]
            _check_unchanged(pipeline.spec, document, succeeded, SpecLimits.of(settings))
            pipeline.spec = document
        for row in to_retry:
            session.execute(
                update(PipelineStep).where(PipelineStep.id == row.id, PipelineStep.status == row.status,
                                           PipelineStep.generation == row.generation)
                .values(status=StepStatus.PENDING.value, reason=None, generation=row.generation + 1, dispatched_at=None,
                        finished_at=None)
                .execution_options(synchronize_session=False)
            )
        pipeline.status, pipeline.error, pipeline.finished_at = PipelineStatus.RUNNING.value, None, None
        pipeline.next_check_at = _next_check(settings, now)
        session.flush()
        job_ids = _advance_locked(session, settings, pipeline, now)
        session.commit()
    enqueue_jobs(settings, job_ids)
    log.info("pipeline %s retried %s; new jobs %s", pipeline_id, [r.name for r in to_retry], job_ids)
    return job_ids


def cancel_pipeline(settings: Settings, pipeline_id: str) -> list[str]:
    """Stop a running pipeline: pending and dispatched steps turn canceled, and its queued jobs (not yet paid for)
    are canceled. Jobs already submitted upstream finish on their own; their results are kept. Returns the ids of
    the jobs canceled. A pipeline that is not running is left as it is."""
    now = utcnow()
    canceled: list[str] = []
    with open_session(settings) as session:
        pipeline = _lock(session, pipeline_id, now)
        if pipeline.status != PipelineStatus.RUNNING:
            session.commit()
            return []
        rows, jobs = _load(session, pipeline_id)
        for row in rows.values():
            if row.status in (StepStatus.PENDING, StepStatus.DISPATCHED):
                set_step_status(session, row, StepStatus(row.status), StepStatus.CANCELED, reason="pipeline canceled",
                                finished_at=now)
        for job in jobs:
            if job.status == JobStatus.QUEUED.value and transition(
                session, job.id, JobStatus.CANCELED, only_from=frozenset({JobStatus.QUEUED}), error="pipeline canceled"
            ):
                canceled.append(job.id)
        pipeline.status, pipeline.error = PipelineStatus.CANCELED.value, "canceled"
        pipeline.finished_at, pipeline.next_check_at = now, None
        session.commit()
    log.info("pipeline %s canceled; queued jobs canceled: %s", pipeline_id, canceled)
    return canceled


def advance_stalled_pipelines(settings: Settings, limit: int = 200) -> int:
    """The reconciler's pass: advance running pipelines whose next check is due (a lost follow-up, a crash between
    a job's end and its pipeline's advance). Uses the (status, next_check_at) index. Returns the jobs created."""
    now = utcnow()
    with open_session(settings) as session:
        due = session.scalars(
            select(Pipeline.id).where(Pipeline.status == PipelineStatus.RUNNING.value, Pipeline.next_check_at <= now)
            .order_by(Pipeline.next_check_at).limit(limit)
        ).all()
    created = 0
    for pipeline_id in due:
        try:
            created += len(advance_pipeline(settings, pipeline_id))
        except Exception:
            log.exception("advancing pipeline %s failed", pipeline_id)
    return created

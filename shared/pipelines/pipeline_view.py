"""The pipeline JSON that the CLI, the HTTP API and tests all show."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from shared.config import Settings, load_settings
from shared.db import open_session
from shared.errors import NotFound
from shared.jobs.views import job_json
from shared.models import Attempt, Job, Pipeline, PipelineStep
from shared.pipelines.dag import current_jobs, job_rows


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def pipeline_cost(session: Session, pipeline_id: str) -> float:
    """What the upstream charged for every job of the pipeline, retried ones included (the ledger's word)."""
    total = session.scalar(
        select(func.coalesce(func.sum(Attempt.cost_usd), 0.0)).join(Job, Attempt.job_id == Job.id)
        .where(Job.pipeline_id == pipeline_id)
    )
    return round(float(total or 0.0), 6)


def _step_json(row: PipelineStep, current: list[Job], older: list[Job]) -> dict[str, Any]:
    views = [job_json(job) for job in current]
    return {
        "name": row.name,
        "operation": row.operation,
        "status": row.status,
        "reason": row.reason,
        "generation": row.generation,
        "dispatched_at": _iso(row.dispatched_at),
        "finished_at": _iso(row.finished_at),
        "job_ids": [job.id for job in current],
        "jobs": [
            {"id": v["id"], "fan_index": job.fan_index, "status": v["status"], "error": v["error"],
             "upstream_task_id": v["upstream_task_id"], "result": v["result"], "lyrics": v["lyrics"]}
            for job, v in zip(current, views, strict=True)
        ],
        "clips": [
            {"id": c["id"], "job_id": v["id"], "fan_index": job.fan_index, "duration": c["duration"],
             "title": c["title"], "audio_url": c["audio_url"], "status": c["status"]}
            for job, v in zip(current, views, strict=True) for c in v["clips"]
        ],
        "artifacts": [{**a, "job_id": v["id"]} for v in views for a in v["artifacts"]],
        "superseded_job_ids": [job.id for job in older],
    }


def pipeline_json(session: Session, pipeline: Pipeline) -> dict[str, Any]:
    rows = session.scalars(
        select(PipelineStep).where(PipelineStep.pipeline_id == pipeline.id).order_by(PipelineStep.position)
    ).all()
    jobs = session.scalars(
        select(Job).where(Job.pipeline_id == pipeline.id)
        .options(selectinload(Job.clips), selectinload(Job.artifacts)).order_by(Job.created_at)
    ).all()
    by_id = {job.id: job for job in jobs}
    current = {step: [by_id[r.id] for r in newest] for step, newest in current_jobs(job_rows(jobs)).items()}
    current_ids = {job.id for step_jobs in current.values() for job in step_jobs}
    return {
        "id": pipeline.id,
        "name": pipeline.name,
        "status": pipeline.status,
        "error": pipeline.error,
        "cost_usd": pipeline_cost(session, pipeline.id),
        "steps": [
            _step_json(row, current.get(row.name, []),
                       [j for j in jobs if j.step_name == row.name and j.id not in current_ids])
            for row in rows
        ],
        "created_at": _iso(pipeline.created_at),
        "updated_at": _iso(pipeline.updated_at),
        "finished_at": _iso(pipeline.finished_at),
    }


def get_pipeline(pipeline_id: str, *, settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or load_settings()
    with open_session(settings) as session:
        pipeline = session.get(Pipeline, pipeline_id)
        if pipeline is None:
            raise NotFound(f"no pipeline {pipeline_id!r}")
        return pipeline_json(session, pipeline)

"""Test helpers for pipelines on a real SQLite database: play the worker's and the receiver's part for a job.

Music, concat and lyrics jobs finish through the real update path (``record_task_update``); persona and GET
exports, whose worker code lives elsewhere, get their documented result written directly.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from shared.cometapi import price_for
from shared.db import open_session
from shared.jobs.updates import record_task_update
from shared.models import Attempt, Job, Pipeline, PipelineStep
from shared.states import JobStatus, transition

SONG = {"op": "generate", "params": {"prompt": "[Verse] la", "tags": "pop", "title": "T", "mv": "chirp-auk"}}


def submit(settings, job_id: str) -> str:
    """Claim, write the ledger row, and mark submitted, as the worker does on an accepted submit."""
    with open_session(settings) as s:
        assert transition(s, job_id, JobStatus.SUBMITTING, only_from=frozenset({JobStatus.QUEUED}),
                          attempts=Job.attempts + 1)
        job = s.get(Job, job_id)
        task_id = f"task-{job_id[:8]}"
        s.add(Attempt(job_id=job_id, attempt_no=1, operation=job.operation, endpoint=job.operation,
                      outcome="accepted", upstream_task_id=task_id, cost_usd=price_for(job.operation, job.params)))
        assert transition(s, job_id, JobStatus.SUBMITTED, upstream_task_id=task_id)
        s.commit()
    return task_id


def finish(settings, job_id: str, *durations: float, failed: str | None = None,
           result: dict[str, Any] | None = None) -> None:
    """Submit (if queued) and end the job: COMPLETE with clips of these durations, or FAILED with a reason."""
    with open_session(settings) as s:
        status = s.get(Job, job_id).status
    if status == "queued":
        submit(settings, job_id)
    with open_session(settings) as s:
        job = s.get(Job, job_id)
        task: dict[str, Any] = {"task_id": job.upstream_task_id, "status": "FAILED" if failed else "COMPLETE",
                                "fail_reason": failed}
        if job.operation in ("music", "concat"):
            task["data"] = [{"id": f"{job.upstream_task_id}-clip{i}", "status": "complete", "title": "T",
                             "audio_url": f"https://cdn1.suno.ai/{job.id}-{i}.mp3", "metadata": {"duration": d}}
                            for i, d in enumerate(durations)]
            outcome = record_task_update(s, job, task, settings)
            assert outcome.changed, outcome
        elif job.operation == "lyrics":
            task["data"] = {"title": "Sea", "text": "[Verse] waves", "status": "complete"}
            assert record_task_update(s, job, task, settings).changed
        elif failed:
            assert transition(s, job_id, JobStatus.FAILED, error=failed)
        else:
            assert transition(s, job_id, JobStatus.SUCCEEDED, result=result or {})
        s.commit()


def jobs_of(settings, pipeline_id: str, step: str | None = None) -> list[Job]:
    with open_session(settings) as s:
        stmt = select(Job).where(Job.pipeline_id == pipeline_id)
        if step is not None:
            stmt = stmt.where(Job.step_name == step)
        jobs = list(s.scalars(stmt.order_by(Job.created_at)))
        for job in jobs:
            _ = job.clips
        return jobs


def only_job(settings, pipeline_id: str, step: str) -> Job:
    (job,) = jobs_of(settings, pipeline_id, step)
    return job


def steps_of(settings, pipeline_id: str) -> dict[str, tuple[str, str | None, int]]:
    with open_session(settings) as s:
        rows = s.scalars(select(PipelineStep).where(PipelineStep.pipeline_id == pipeline_id))
        return {r.name: (r.status, r.reason, r.generation) for r in rows}


def pipeline_row(settings, pipeline_id: str) -> Pipeline:
    with open_session(settings) as s:
        return s.get(Pipeline, pipeline_id)


def count(settings, model) -> int:
    with open_session(settings) as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def accepted_music_job(settings: Any, status: str = "submitted") -> str:
    """A music job the upstream accepted as task-1 (one attempt), waiting for its callbacks."""
    with open_session(settings) as s:
        job = Job(operation="music", params={}, status=status, upstream_task_id="task-1", attempts=1, progress="0%")
        s.add(job)
        s.commit()
        return job.id

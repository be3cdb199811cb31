"""What `hookline demo` prints about a pipeline: one row per step, then the total cost."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from shared.cometapi.operations import export_artifacts
from shared.config import Settings
from shared.db import open_session
from shared.jobs.artifacts import artifact_sources
from shared.models import Artifact, Job
from shared.pipelines import get_pipeline
from shared.states import JobStatus, PipelineStatus


def files_settled(settings: Settings, job_ids: list[str]) -> bool:
    """Every succeeded job has a finished artifact row for each file it produced (downloads run after the
    pipeline advances, so a finished pipeline may still be fetching its last files)."""
    with open_session(settings) as session:
        for job_id in job_ids:
            job = session.get(Job, job_id)
            if job is None or job.status != JobStatus.SUCCEEDED.value:
                continue
            done = session.scalars(select(Artifact.source_url).where(
                Artifact.job_id == job_id, Artifact.status != "pending")).all()
            if len(set(done)) < len({s.url for s in artifact_sources(job)}):
                return False
    return True


def wait_pipeline(settings: Settings, pipeline_id: str, timeout: float) -> dict[str, Any]:
    """Wait on our own database until the pipeline ends and its files are downloaded."""
    deadline = time.monotonic() + timeout
    while True:
        view = get_pipeline(pipeline_id, settings=settings)
        job_ids = [j for s in view["steps"] for j in s.get("job_ids", [])]
        finished = PipelineStatus(view["status"]).terminal
        if (finished and files_settled(settings, job_ids)) or time.monotonic() > deadline:
            return get_pipeline(pipeline_id, settings=settings)
        time.sleep(0.5)


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1_048_576:.1f} MiB" if n >= 1_048_576 else f"{n / 1024:.0f} KiB"


# The clips' audio and every export's file; covers are downloaded too, but not listed here.
SHOWN_KINDS = ("audio", *(artifact.kind for artifact in export_artifacts()))


def _where(key: str | None, source: str) -> str:
    return key or source


def print_pipeline_table(view: dict[str, Any]) -> None:
    table = Table(title=f"pipeline {view['name'] or view['id']}: {view['status']}")
    for column in ("step", "op", "status", "clips (duration)", "artifacts (key, size)"):
        table.add_column(column, overflow="fold")
    for step in view["steps"]:
        clips = "\n".join(f"{c['id'][:8]} ({c['duration']:.1f}s)" if c.get("duration") else c["id"][:8]
                          for c in step.get("clips", []))
        arts = "\n".join(
            f"{_where(a['key'], a['source_url'])} ({_size(a['size'])})" if a["status"] == "stored"
            else f"{a['kind']} {a['status']}: {a['error']}"
            for a in step.get("artifacts", []) if a["kind"] in SHOWN_KINDS or a["status"] != "stored")
        status = step["status"] + (f": {step['reason']}" if step.get("reason") else "")
        table.add_row(step["name"], step["operation"], status, clips or "-", arts or "-")
    console = Console(width=160)
    console.print(table)
    console.print(f"total cost (at the API docs' prices): ${view['cost_usd']:.3f}   "
                  "artifacts: keys in HOOKLINE_ARTIFACT_STORE, served at GET /v1/jobs/<id>/artifacts/<aid>")

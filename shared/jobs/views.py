"""The job JSON that the CLI, the HTTP API and tests all show."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.jobs.clip_fields import clean_duration
from shared.models import Job


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def artifact_url(job_id: str, artifact_id: int) -> str:
    """Where any receiver serves a stored artifact (relative to the receiver: ``GET /v1/jobs/<id>/artifacts/<aid>``)."""
    return f"/v1/jobs/{job_id}/artifacts/{artifact_id}"


def job_json(job: Job) -> dict[str, Any]:
    result = job.result or {}
    return {
        "id": job.id,
        "operation": job.operation,
        "status": job.status,
        "upstream_task_id": job.upstream_task_id,
        "attempts": job.attempts,
        "error": job.error,
        "warnings": list(job.warnings or []),
        "progress": job.progress,
        "clips": [
            {
                "id": c.clip_id,
                "title": c.title,
                "audio_url": c.audio_url,
                "image_url": c.image_url,
                "duration": clean_duration(c.duration),  # a NaN stored before it was cleaned is not JSON
                "status": c.status,
            }
            for c in job.clips
        ],
        "lyrics": result.get("lyrics"),
        # Operation-specific output: persona_id (persona), export (wav/midi/mp4/timing answer), songs (udio) ...
        "result": {k: v for k, v in result.items() if k != "lyrics"} or None,
        "pipeline_id": job.pipeline_id,
        "step": job.step_name,
        "artifacts": [
            {"id": a.id, "kind": a.kind, "clip_id": a.clip_id, "key": a.storage_key if a.status == "stored" else None,
             "url": artifact_url(job.id, a.id) if a.status == "stored" else None, "size": a.size,
             "sha256": a.sha256, "content_type": a.content_type, "status": a.status, "error": a.error,
             "source_url": a.source_url}
            for a in job.artifacts
        ],
        "created_at": _iso(job.created_at),
        "updated_at": _iso(job.updated_at),
        "finished_at": _iso(job.finished_at),
    }

"""A music job's files end up on disk: sandbox, receiver, Celery worker + beat as real processes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import mutagen.mp3
import pytest

from shared.cli.stack import Stack, wait_until
from tests.conftest import StackFactory
from tests.e2e.driver import artifact_bytes, create_job, get_job, wait_job

SONG = {"prompt": "[Verse]\nSalt on the rigging\n\n[Chorus]\nBring her home", "tags": "sea shanty",
        "title": "Rigging", "mv": "chirp-v4"}


def wait_artifacts(stack: Stack, job_id: str, count: int, timeout: float = 60.0) -> dict[str, Any]:
    """Artifacts are downloaded by a follow-up after the job succeeds: poll the job JSON until all are settled."""
    def all_settled() -> dict[str, Any] | None:
        job = get_job(stack, job_id)
        settled = [a for a in job["artifacts"] if a["status"] in ("stored", "refused", "failed")]
        return job if len(settled) >= count else None

    try:
        return wait_until(all_settled, timeout, 0.2, f"{count} settled artifacts of job {job_id}")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}: {get_job(stack, job_id)}") from None


@pytest.mark.e2e
def test_music_job_artifacts_are_downloaded_with_recorded_hashes(make_stack: StackFactory) -> None:
    stack, settings = make_stack()
    job_id = create_job(stack, "music", SONG)
    assert wait_job(stack, job_id)["status"] == "succeeded"

    job = wait_artifacts(stack, job_id, count=6)  # per clip: audio, cover, large cover

    artifacts = job["artifacts"]
    assert sorted(a["kind"] for a in artifacts) == ["audio"] * 2 + ["image"] * 4
    assert all(a["status"] == "stored" for a in artifacts), artifacts
    job_dir = Path(settings.artifact_dir).resolve() / job_id
    for artifact in artifacts:
        path = job_dir / Path(artifact["key"]).name  # the default store: files under var/artifacts/<job_id>/
        data = path.read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (artifact["size"], artifact["sha256"])
        assert artifact_bytes(stack.receiver_url, artifact) == data
        assert artifact["content_type"] == ("audio/mpeg" if artifact["kind"] == "audio" else "image/png")
    durations = {c["id"]: c["duration"] for c in job["clips"]}
    for audio in (a for a in artifacts if a["kind"] == "audio"):
        assert audio["key"] == f"{job_id}/{audio['clip_id']}.mp3"
        length = mutagen.mp3.MP3(job_dir / f"{audio['clip_id']}.mp3").info.length
        assert length == pytest.approx(durations[audio["clip_id"]], abs=0.15)

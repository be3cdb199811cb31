"""Artifact sources and downloads into artifact_dir, against a real local HTTP server and a migrated SQLite DB."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from shared.config import Settings
from shared.db import open_session
from shared.jobs.artifacts import Source, artifact_sources, download_job_artifacts
from shared.models import Artifact, Clip, Job
from tests.unit.test_safe_fetch import LocalServer, Reply
from worker.downloading import download_artifacts

MP3 = b"ID3\x04" + bytes(range(256)) * 30
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 500


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


@pytest.fixture
def sandbox_settings(settings: Settings, server: LocalServer) -> Settings:
    """The test's server stands in for the sandbox: it is the configured upstream."""
    return settings.with_overrides(base_url=server.url)


def add_job(settings: Settings, *, operation: str = "music", status: str = "succeeded",
            params: dict[str, Any] | None = None, result: dict[str, Any] | None = None,
            clips: list[dict[str, Any]] | None = None) -> str:
    with open_session(settings) as session:
        job = Job(operation=operation, status=status, params=params or {}, result=result)
        job.clips = [Clip(clip_id=c.pop("clip_id"), position=n, **c) for n, c in enumerate(clips or [])]
        session.add(job)
        session.commit()
        return job.id


def serve_clip(server: LocalServer, clip_id: str) -> dict[str, Any]:
    audio = server.route(f"/cdn/audio/{clip_id}.mp3", Reply(body=MP3, headers={"Content-Type": "audio/mpeg"}))
    image = server.route(f"/cdn/image/{clip_id}.png", Reply(body=PNG, headers={"Content-Type": "image/png"}))
    large = server.route(f"/cdn/image_large/{clip_id}.png",
                         Reply(body=PNG + b"L", headers={"Content-Type": "image/png"}))
    return {"clip_id": clip_id, "audio_url": audio, "image_url": image, "image_large_url": large}


def rows(settings: Settings, job_id: str) -> list[Artifact]:
    with open_session(settings) as session:
        return list(session.scalars(select(Artifact).where(Artifact.job_id == job_id).order_by(Artifact.id)))


# --- sources ---------------------------------------------------------------------------------------------------

def test_clip_sources_name_files_by_clip_and_skip_repeated_urls() -> None:
    job = Job(operation="music", status="succeeded", clips=[
        Clip(clip_id="c1", audio_url="https://cdn1.suno.ai/c1.mp3", image_url="https://cdn2.suno.ai/image_c1.jpeg",
             image_large_url="https://cdn2.suno.ai/image_large_c1.jpeg", video_url="https://cdn1.suno.ai/c1.mp4"),
        Clip(clip_id="../../etc/c2", audio_url="https://audiopipe.suno.ai/?item_id=c2",
             image_url="https://cdn2.suno.ai/c2.png", image_large_url="https://cdn2.suno.ai/c2.png", video_url=""),
    ])
    assert artifact_sources(job) == [
        Source("audio", "c1", "https://cdn1.suno.ai/c1.mp3", "c1.mp3"),
        Source("image", "c1", "https://cdn2.suno.ai/image_c1.jpeg", "c1.jpeg"),
        Source("image", "c1", "https://cdn2.suno.ai/image_large_c1.jpeg", "c1-large.jpeg"),
        Source("video", "c1", "https://cdn1.suno.ai/c1.mp4", "c1.mp4"),
        Source("audio", "../../etc/c2", "https://audiopipe.suno.ai/?item_id=c2", "etc_c2.mp3"),
        Source("image", "../../etc/c2", "https://cdn2.suno.ai/c2.png", "etc_c2.png"),
    ]


def test_export_sources_for_wav_midi_mp4_and_timing() -> None:
    def export_job(operation: str, answer: dict[str, Any]) -> list[Source]:
        return artifact_sources(Job(operation=operation, params={"clip_id": "c9"}, result={"export": answer}))

    assert export_job("wav", {"code": "success", "data": {"wav_url": "https://cdn1.suno.ai/c9.wav"}}) == [
        Source("wav", "c9", "https://cdn1.suno.ai/c9.wav", "c9.wav")]
    midi = {"state": "complete", "instruments": [{"name": "Piano", "midi_url": "https://cdn1.suno.ai/p.mid"},
                                                 {"name": "Bass", "notes": [{"pitch": 40, "start": 0.5}]}]}
    assert export_job("midi", midi) == [Source("midi", "c9", "result:midi", "midi.json"),
                                        Source("midi", "c9", "https://cdn1.suno.ai/p.mid", "c9.mid")]
    assert export_job("mp4", {"data": "https://cdn1.suno.ai/c9"}) == [
        Source("video", "c9", "https://cdn1.suno.ai/c9", "c9.mp4")]
    timing = {"aligned_words": [{"word": "Hold", "success": True, "start_s": 1.0, "end_s": 1.4, "p_align": 0.9}]}
    assert export_job("timing", timing) == [Source("timing", "c9", "result:timing", "timing.json")]
    assert export_job("wav", {"state": "running"}) == []
    assert artifact_sources(Job(operation="lyrics", result={"lyrics": {"text": "la"}})) == []


# --- downloads -------------------------------------------------------------------------------------------------

def test_files_are_stored_with_size_sha256_and_content_type(sandbox_settings: Settings, server: LocalServer) -> None:
    job_id = add_job(sandbox_settings, clips=[serve_clip(server, "c1"), serve_clip(server, "c2")])

    stored = download_job_artifacts(sandbox_settings, job_id)

    assert [(a.kind, a.clip_id, a.status) for a in stored] == [
        ("audio", "c1", "stored"), ("image", "c1", "stored"), ("image", "c1", "stored"),
        ("audio", "c2", "stored"), ("image", "c2", "stored"), ("image", "c2", "stored")]
    job_dir = Path(sandbox_settings.artifact_dir or "").resolve() / job_id
    for artifact in stored:
        data = Path(artifact.path or "").read_bytes()
        assert Path(artifact.path or "").parent == job_dir
        assert (artifact.size, artifact.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert (stored[0].path, stored[0].content_type) == (str(job_dir / "c1.mp3"), "audio/mpeg")
    assert Path(stored[0].path or "").read_bytes() == MP3
    assert (stored[2].path, stored[2].content_type) == (str(job_dir / "c1-large.png"), "image/png")


def test_refused_urls_are_recorded_and_never_fetched(sandbox_settings: Settings, server: LocalServer) -> None:
    with LocalServer() as internal:  # same host as the upstream, another port: must stay unreached
        secret = internal.route("/secret.mp3", Reply(body=b"internal"))
        clips = [{"clip_id": "c1", "audio_url": secret, "image_url": "http://example.org/c1.png",
                  "image_large_url": "file:///etc/passwd"}]
        job_id = add_job(sandbox_settings, clips=clips)
        stored = download_job_artifacts(sandbox_settings, job_id)
        assert internal.seen == []
    assert [(a.status, a.path, a.size, a.sha256) for a in stored] == [("refused", None, None, None)] * 3
    assert "resolves to non-public address 127.0.0.1" in (stored[0].error or "")
    assert "example.org is not on the download allowlist" in (stored[1].error or "")
    assert "scheme 'file'" in (stored[2].error or "")
    assert not (Path(sandbox_settings.artifact_dir or "") / job_id).exists()


def test_rerun_skips_stored_files_and_retries_failed_ones(sandbox_settings: Settings, server: LocalServer) -> None:
    clip = serve_clip(server, "c1")
    server.route("/cdn/audio/c1.mp3", Reply(503))  # down for the whole first run (3 tries)
    job_id = add_job(sandbox_settings, clips=[clip])

    first = download_job_artifacts(sandbox_settings, job_id)
    assert [(a.kind, a.status) for a in first] == [("audio", "failed"), ("image", "stored"), ("image", "stored")]
    assert "HTTP 503" in (first[0].error or "") and "after 3 tries" in (first[0].error or "")
    seen_after_first = len(server.seen)

    server.route("/cdn/audio/c1.mp3", Reply(body=MP3, headers={"Content-Type": "audio/mpeg"}))
    second = download_job_artifacts(sandbox_settings, job_id)

    assert [(a.id, a.status, a.error) for a in second] == [(first[0].id, "stored", None), (first[1].id, "stored", None),
                                                           (first[2].id, "stored", None)]
    assert [path for path, _ in server.seen[seen_after_first:]] == ["/cdn/audio/c1.mp3"]  # images not fetched again
    assert second[0].sha256 == hashlib.sha256(MP3).hexdigest()
    third = download_job_artifacts(sandbox_settings, job_id)
    assert [(a.id, a.status) for a in third] == [(a.id, "stored") for a in second]
    assert len(server.seen) == seen_after_first + 1  # a third run fetches nothing


def test_a_stored_file_deleted_from_disk_is_fetched_again(sandbox_settings: Settings, server: LocalServer) -> None:
    job_id = add_job(sandbox_settings, clips=[serve_clip(server, "c1")])
    audio = download_job_artifacts(sandbox_settings, job_id)[0]
    Path(audio.path or "").unlink()
    again = download_job_artifacts(sandbox_settings, job_id)[0]
    assert (again.id, again.status, Path(again.path or "").read_bytes()) == (audio.id, "stored", MP3)


def test_json_exports_are_kept_as_files(sandbox_settings: Settings, server: LocalServer) -> None:
    timing = {"aligned_words": [{"word": "Hold", "success": True, "start_s": 1.0, "end_s": 1.4, "p_align": 0.93}]}
    timing_job = add_job(sandbox_settings, operation="timing", params={"clip_id": "c1"}, result={"export": timing})
    midi_url = server.route("/files/c1.mid",
                            Reply(body=b"MThd\x00\x00\x00\x06", headers={"Content-Type": "audio/midi"}))
    midi = {"state": "complete", "instruments": [{"name": "Piano", "url": midi_url}]}
    midi_job = add_job(sandbox_settings, operation="midi", params={"clip_id": "c1"}, result={"export": midi})

    [kept] = download_job_artifacts(sandbox_settings, timing_job)
    json_file, midi_file = download_job_artifacts(sandbox_settings, midi_job)

    assert (kept.kind, kept.source_url, kept.status, kept.content_type) == ("timing", "result:timing", "stored",
                                                                           "application/json")
    assert Path(kept.path or "").name == "timing.json"
    assert json.loads(Path(kept.path or "").read_text()) == timing
    assert kept.sha256 == hashlib.sha256(Path(kept.path or "").read_bytes()).hexdigest()
    assert (json_file.source_url, Path(json_file.path or "").name) == ("result:midi", "midi.json")
    assert (midi_file.kind, midi_file.status, Path(midi_file.path or "").name) == ("midi", "stored", "c1.mid")
    assert download_job_artifacts(sandbox_settings, timing_job)[0].id == kept.id


def test_jobs_that_did_not_succeed_are_skipped(sandbox_settings: Settings, server: LocalServer) -> None:
    job_id = add_job(sandbox_settings, status="failed", clips=[serve_clip(server, "c1")])
    assert download_job_artifacts(sandbox_settings, job_id) == []
    download_artifacts(sandbox_settings, job_id)  # the follow-up, too
    assert rows(sandbox_settings, job_id) == [] and server.seen == []
    assert download_job_artifacts(sandbox_settings, "no-such-job") == []


def test_the_follow_up_downloads_a_succeeded_job(sandbox_settings: Settings, server: LocalServer) -> None:
    job_id = add_job(sandbox_settings, clips=[serve_clip(server, "c1")])
    download_artifacts(sandbox_settings, job_id)
    assert [a.status for a in rows(sandbox_settings, job_id)] == ["stored"] * 3


def test_a_jobs_files_are_recorded_in_two_transactions(sandbox_settings: Settings, server: LocalServer) -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    job_id = add_job(sandbox_settings, clips=[serve_clip(server, "c1"), serve_clip(server, "c2")])
    commits: list[Session] = []

    def count(session: Session) -> None:
        commits.append(session)

    event.listen(Session, "after_commit", count)
    try:
        stored = download_job_artifacts(sandbox_settings, job_id)
    finally:
        event.remove(Session, "after_commit", count)
    assert [a.status for a in stored] == ["stored"] * 6
    assert len(commits) == 2  # the pending rows, then every outcome (was one per file, plus one)


def test_a_run_that_dies_mid_download_loses_nothing(sandbox_settings: Settings, server: LocalServer,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import update

    import shared.jobs.artifacts as artifacts
    from shared.jobs.finishing import follow_ups_done
    from shared.models import utcnow

    job_id = add_job(sandbox_settings, clips=[serve_clip(server, "c1")])
    with open_session(sandbox_settings) as session:  # its follow-up deadline, as finish_job sets it
        session.execute(update(Job).where(Job.id == job_id).values(next_check_at=utcnow()))
        session.commit()
    real_fetch, calls = artifacts.fetch_into, []

    def dies_on_the_second_file(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        if len(calls) == 2:
            raise SystemExit("worker killed")  # not an error a download records: the run just stops
        return real_fetch(*args, **kwargs)

    monkeypatch.setattr(artifacts, "fetch_into", dies_on_the_second_file)
    with pytest.raises(SystemExit):
        download_job_artifacts(sandbox_settings, job_id)
    assert [a.status for a in rows(sandbox_settings, job_id)] == ["pending"] * 3  # announced, none recorded
    assert follow_ups_done(sandbox_settings, job_id) is False  # so the job's follow-up deadline stays
    monkeypatch.setattr(artifacts, "fetch_into", real_fetch)
    assert [a.status for a in download_job_artifacts(sandbox_settings, job_id)] == ["stored"] * 3  # the rerun
    assert follow_ups_done(sandbox_settings, job_id) is True

"""Issue 11 finding 11: upstream values longer than their columns, and NUL characters, are cut (display values) or
refused with a clear reason (ids), never a database error; params holding NUL are refused before anything is
written; database files are created readable by their owner only. On SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from shared import db
from shared.admission import admit
from shared.bulk.accept import accept_bulk
from shared.bulk.lines import LineInvalid, entry_from_line
from shared.bulk.source import BulkSource
from shared.config import hook_secret
from shared.db import open_session
from shared.errors import ValidationError
from shared.jobs.hook_urls import hook_token
from shared.jobs.updates import record_task_update
from shared.models import Attempt, CallbackRecord, Clip, Job, utcnow
from shared.producer import add_job, validate_job
from tests.unit.pipeline_rows import accepted_music_job as make_job
from webhook.app import create_app
from worker.polling import poll_job_once
from worker.submitting import submit_claimed

LONG_ID = "c" * 129  # one more than clips.clip_id and upstream_task_id hold
SONG = {"prompt": "[Verse]\nla", "tags": "pop", "title": "T", "mv": "chirp-v4"}


def clip(clip_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": clip_id, "title": "t", "status": "complete", "audio_url": f"https://cdn1.suno.ai/{len(clip_id)}.mp3",
            "metadata": {"duration": 30.0}, **fields}


def complete(*clips: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"task_id": "task-1", "action": "MUSIC", "status": "SUCCESS", "progress": "100%", "data": list(clips),
            **fields}


def post(settings, job_id: str, body: dict[str, Any]):
    client = create_app({"HOOKLINE_SETTINGS": settings, "TESTING": True}).test_client()
    return client.post(f"/hooks/cometapi/{job_id}/1/{hook_token(hook_secret(settings), job_id, 1)}", json=body)


def clips_of(settings, job_id: str) -> list[Clip]:
    with open_session(settings) as s:
        return list(s.scalars(select(Clip).where(Clip.job_id == job_id).order_by(Clip.position)))


def job_row(settings, job_id: str) -> Job:
    with open_session(settings) as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


@pytest.mark.parametrize("bad_id", [LONG_ID, "clip\x00one"], ids=["too-long", "nul"])
def test_callback_with_an_unstorable_clip_id_is_refused_with_400(any_db, bad_id):
    job_id = make_job(any_db)
    # Two ids sharing their first 128 characters: cut to fit, they would have become one clip.
    answer = post(any_db, job_id, complete(clip(bad_id), clip(LONG_ID + "d")))
    assert answer.status_code == 400
    message = answer.get_json()["error"]["message"]
    assert "clip id" in message and ("129 characters" in message or "NUL" in message)
    assert clips_of(any_db, job_id) == []
    assert job_row(any_db, job_id).status == "submitted"
    with open_session(any_db) as s:
        record = s.scalars(select(CallbackRecord).where(CallbackRecord.job_id == job_id)).one()
        assert record.verdict == "rejected" and record.http_status == 400 and "clip id" in (record.reason or "")


def test_fetched_snapshot_with_a_too_long_clip_id_is_recorded_as_invalid(any_db):
    """The reconciler's path: ``record_task_update`` then the batch's commit."""
    job_id = make_job(any_db)
    with open_session(any_db) as s:
        job = s.get(Job, job_id)
        outcome = record_task_update(s, job, complete(clip("ok-1"), clip(LONG_ID)), any_db)
        s.commit()
    assert outcome.verdict.value == "invalid" and "129 characters" in outcome.reason
    row = job_row(any_db, job_id)
    assert row.status == "submitted" and "clip id of 129 characters" in (row.error or "")
    assert clips_of(any_db, job_id) == []


def test_display_values_are_cut_and_nul_is_stripped_everywhere(any_db):
    job_id = make_job(any_db)
    long_clip = clip("a" * 128, status="s" * 40, model_name="m" * 200, title="ti\x00tle",
                     image_url="https://cdn1.suno.ai/i\x00.png", metadata={"duration": 3.0, "ta\x00gs": "p\x00op"})
    answer = post(any_db, job_id, complete(long_clip, progress="9" * 50))
    assert answer.status_code == 200, answer.get_json()
    (stored,) = clips_of(any_db, job_id)
    assert stored.clip_id == "a" * 128 and stored.status == "s" * 16 and stored.model_name == "m" * 64
    assert stored.title == "title" and stored.image_url == "https://cdn1.suno.ai/i.png"
    assert stored.meta == {"duration": 3.0, "tags": "pop"}
    row = job_row(any_db, job_id)
    assert row.status == "succeeded" and row.progress == "9" * 16


def test_failed_callback_reason_with_nul_is_stored_without_it(any_db):
    job_id = make_job(any_db)
    answer = post(any_db, job_id, {"task_id": "task-1", "status": "FAILURE", "fail_reason": "bad\x00 " + "x" * 5000})
    assert answer.status_code == 200
    error = job_row(any_db, job_id).error or ""
    assert error.startswith("bad ") and "\x00" not in error and len(error) == 2000


class UdioAnswer:
    """A Udio query that reports the generation done, with one song whose id is too long for clips.clip_id."""

    def poll(self, operation: Any, ref: str, *, follow: str | None = None) -> dict[str, Any]:
        song = {"id": LONG_ID, "generation_id": ref, "finished": True, "song_path": "https://cdn1.suno.ai/s.mp3"}
        return {"songs": [song]}


def test_polled_answer_with_a_too_long_clip_id_is_refused_and_recorded_in_the_attempt(any_db):
    with open_session(any_db) as s:
        job = Job(operation="udio", params={}, status="submitted", upstream_task_id="gen-1", attempts=1,
                  submitted_at=utcnow())
        s.add(job)
        s.commit()
        job_id = job.id
    result = poll_job_once(any_db, job_id, client=UdioAnswer())  # type: ignore[arg-type]
    assert result.outcome.value == "again" and "129 characters" in result.detail
    assert job_row(any_db, job_id).status == "submitted" and clips_of(any_db, job_id) == []
    with open_session(any_db) as s:
        (attempt,) = s.scalars(select(Attempt).where(Attempt.job_id == job_id)).all()
        assert attempt.outcome == "error" and "snapshot refused: clip id of 129 characters" in (attempt.error or "")


class AcceptingClient:
    """Answers every submit with ``task_id``: the upstream accepted (and charged) it."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.submits = 0

    def submit(self, operation: str, payload: dict[str, Any]) -> str:
        self.submits += 1
        return self.task_id


def queued_job(settings, operation="music", params=SONG) -> str:
    with open_session(settings) as s:
        job = add_job(s, settings, operation, params)
        s.commit()
    assert job.id in admit(settings).admitted  # admitted (its submit message published): the worker may send it
    return job.id


@pytest.mark.parametrize("task_id", ["t" * 300, "task\x00id"], ids=["too-long", "nul"])
def test_accepted_submit_with_an_unstorable_task_id_fails_the_job_and_keeps_the_charge(any_db, task_id):
    job_id = queued_job(any_db)
    client = AcceptingClient(task_id)
    result = submit_claimed(any_db, job_id, client=client)  # type: ignore[arg-type]
    assert result.outcome.value == "failed" and client.submits == 1
    row = job_row(any_db, job_id)
    assert row.status == "failed" and row.upstream_task_id is None
    assert "charged" in (row.error or "") and ("300 characters" in (row.error or "") or "NUL" in (row.error or ""))
    with open_session(any_db) as s:
        (attempt,) = s.scalars(select(Attempt).where(Attempt.job_id == job_id)).all()
        assert attempt.outcome == "accepted" and attempt.cost_usd > 0 and attempt.upstream_task_id is None
        assert repr(task_id) in (attempt.error or "")  # the whole id, escaped: the fact of the spend is kept
    # Failed, not requeued: a second message pays nothing more.
    assert submit_claimed(any_db, job_id, client=client).outcome.value == "skipped"  # type: ignore[arg-type]
    assert client.submits == 1


def test_synchronous_answer_with_a_too_long_id_keeps_it_whole_in_the_result(any_db):
    params = {"root_clip_id": "c1", "name": "n", "description": "", "clips": ["c1"], "is_public": False}
    job_id = queued_job(any_db, "persona", params)
    result = submit_claimed(any_db, job_id, client=AcceptingClient("p" * 300))  # type: ignore[arg-type]
    assert result.outcome.value == "succeeded"
    row = job_row(any_db, job_id)
    assert row.status == "succeeded" and row.upstream_task_id is None and row.result == {"persona_id": "p" * 300}
    with open_session(any_db) as s:
        (attempt,) = s.scalars(select(Attempt).where(Attempt.job_id == job_id)).all()
        assert attempt.upstream_task_id is None and "300 characters" in (attempt.error or "")


def test_validate_job_refuses_nul_anywhere_in_params():
    with pytest.raises(ValidationError) as caught:
        validate_job("music", {**SONG, "extra": [{"deep": "a\x00b"}]})
    assert caught.value.field == "params.extra[0].deep" and "NUL" in caught.value.message
    with pytest.raises(ValidationError) as caught:
        validate_job("music", {**SONG, "ke\x00y": "v"})
    assert caught.value.field == "params.ke\\x00y"


CSV_WITH_NUL = (b'operation,prompt,tags,title,mv\n'
                b'music,fine,pop,T,chirp-v4\n'
                b'music,"la\x00la",pop,T,chirp-v4\n')


def test_bulk_csv_line_with_nul_in_params_is_a_bad_line_naming_line_and_field(settings):
    entries = list(BulkSource.from_bytes(CSV_WITH_NUL, "csv").lines())
    assert entry_from_line(settings, entries[0]).payload is not None
    with pytest.raises(LineInvalid) as caught:
        entry_from_line(settings, entries[1])
    assert [str(e) for e in caught.value.errors] == [
        "line 3: params.prompt: contains a NUL character (\\x00), which cannot be stored"]


def test_bulk_jsonl_line_with_nul_in_its_own_fields_is_refused(settings):
    line = b'{"operation": "music", "key": "k\\u0000", "params": {"prompt": "p", "tags": "t", "title": "T"}}\n'
    (raw,) = BulkSource.from_bytes(line, "jsonl").lines()
    with pytest.raises(LineInvalid) as caught:
        entry_from_line(settings, raw)
    assert caught.value.errors[0].field == "key" and "NUL" in caught.value.errors[0].message


def test_bulk_file_with_a_nul_line_writes_nothing(any_db):
    report = accept_bulk(any_db, BulkSource.from_bytes(CSV_WITH_NUL, "csv"))
    assert report.invalid == 1 and report.accepted == 0
    assert [e.as_json() for e in report.errors] == [
        {"line": 3, "field": "params.prompt", "message": "contains a NUL character (\\x00), which cannot be stored"}]
    with open_session(any_db) as s:
        assert s.scalars(select(Job)).all() == []


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_sqlite_database_and_its_wal_files_are_owner_only(settings, tmp_path):
    path = tmp_path / "fresh" / "hookline.db"
    fresh = settings.with_overrides(database_url=f"sqlite:///{path}")
    old_umask = os.umask(0o022)  # the usual umask, which alone would give 0644
    try:
        db.upgrade(fresh)
        with db.get_engine(fresh).connect() as conn:  # a write, so -wal and -shm exist while it is open
            conn.execute(text("CREATE TABLE probe (x INTEGER)"))
            conn.commit()
            assert {p.name: mode(p) for p in path.parent.iterdir()} == {
                "hookline.db": 0o600, "hookline.db-wal": 0o600, "hookline.db-shm": 0o600}
    finally:
        os.umask(old_umask)


def test_an_existing_database_file_keeps_its_mode(settings, tmp_path):
    path = tmp_path / "kept.db"
    path.touch()
    path.chmod(0o640)
    db.upgrade(settings.with_overrides(database_url=f"sqlite:///{path}"))
    assert mode(path) == 0o640


def test_the_embedded_brokers_file_is_owner_only(tmp_path):
    from kombu import Connection

    import shared.tasks  # noqa: F401 - registers the embedded broker's transport alias

    path = tmp_path / "broker" / "broker.db"
    path.parent.mkdir()
    old_umask = os.umask(0o022)
    try:
        with Connection(f"hookline-sqla+sqlite:///{path}") as conn:
            queue = conn.SimpleQueue("probe")
            queue.put({"n": 1})
            queue.close()
    finally:
        os.umask(old_umask)
    assert mode(path) == 0o600


@pytest.mark.parametrize("bad_task_id", ["t" * 129, "task\x00one"], ids=["too-long", "nul"])
def test_callback_naming_an_unstorable_task_id_is_refused_before_it_is_attached(any_db, bad_task_id):
    """An orphan callback for a job whose submit never learned its task id would attach the id it names: one that
    its column cannot hold is refused with a 400 (on PostgreSQL it used to reach the UPDATE and fail there)."""
    with open_session(any_db) as s:
        job = Job(operation="music", params={}, status="submitting", attempts=1, progress="0%")
        s.add(job)
        s.commit()
        job_id = job.id
    answer = post(any_db, job_id, complete(clip("ok-1"), task_id=bad_task_id))
    assert answer.status_code == 400
    assert "task id" in answer.get_json()["error"]["message"]
    row = job_row(any_db, job_id)
    assert row.upstream_task_id is None and row.status == "submitting"

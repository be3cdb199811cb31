"""The receiver's lean path (``shared.jobs.lean_apply``) on SQLite and PostgreSQL: it writes exactly what the full
path (``record_task_update`` + ``add_finished``) writes for the common callback, declines (writing nothing) every
other case, and its follow-ups are published after the commit by the relay thread, not in the request."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from shared.config import Settings
from shared.db import open_session
from shared.jobs.finishing import add_finished
from shared.jobs.lean_apply import apply_lean
from shared.jobs.updates import next_check_after_news, record_task_update
from shared.models import CallbackRecord, Clip, Job, OutboxMessage, utcnow
from shared.outbox import flush_background_relay, relay_in_background
from shared.states import CallbackVerdict, JobStatus
from shared.tasks import DOWNLOAD_ARTIFACTS, FILES_QUEUE, JOB_FINISHED
from tests.unit.test_outbox import queued_messages
from tests.unit.test_receiver import clip, post, task
from webhook.app import create_app

CLIP_COLUMNS = ("clip_id", "position", "title", "status", "audio_url", "image_url", "image_large_url", "video_url",
                "duration", "model_name", "meta")


def waiting_job(settings: Settings, status: str = "submitted", operation: str = "music", attempts: int = 1) -> str:
    with open_session(settings) as session:
        job = Job(operation=operation, params={}, status=status, upstream_task_id="task-1", attempts=attempts)
        session.add(job)
        session.commit()
        return job.id


def clips_of(settings: Settings, job_id: str) -> list[tuple[Any, ...]]:
    with open_session(settings) as session:
        found = session.scalars(select(Clip).where(Clip.job_id == job_id).order_by(Clip.position))
        return [tuple(getattr(c, k) for k in CLIP_COLUMNS) for c in found]


def job_of(settings: Settings, job_id: str) -> Job:
    with open_session(settings) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def outbox_of(settings: Settings, job_id: str) -> list[OutboxMessage]:
    with open_session(settings) as session:
        return [m for m in session.scalars(select(OutboxMessage)) if m.args[0] == job_id]


def full_path(settings: Settings, job_id: str, snapshot: dict[str, Any]) -> None:
    with open_session(settings) as session:
        job = session.get(Job, job_id)
        assert job is not None
        outcome = record_task_update(session, job, snapshot, settings)
        assert outcome.changed
        if outcome.status is not None and outcome.status.terminal:
            add_finished(session, settings, job_id)
        session.commit()


def test_lean_complete_writes_what_the_full_path_writes(any_db: Settings) -> None:
    lean_job, full_job = waiting_job(any_db), waiting_job(any_db)
    before = utcnow()
    outcome = apply_lean(any_db, lean_job, 1, task(), "127.0.0.1")
    assert outcome is not None and outcome.verdict is CallbackVerdict.APPLIED
    assert outcome.status is JobStatus.SUCCEEDED
    full_path(any_db, full_job, task())

    assert clips_of(any_db, lean_job) == clips_of(any_db, full_job) and len(clips_of(any_db, lean_job)) == 2
    lean, full = job_of(any_db, lean_job), job_of(any_db, full_job)
    for column in ("status", "progress", "error", "result", "upstream_task_id", "attempts"):
        assert getattr(lean, column) == getattr(full, column), column
    assert lean.finished_at is not None and lean.finished_at >= before.replace(tzinfo=lean.finished_at.tzinfo)
    assert lean.next_check_at is not None and full.next_check_at is not None  # the follow-ups' deadline, both
    assert abs((lean.next_check_at - full.next_check_at).total_seconds()) < 30
    (message,) = outbox_of(any_db, lean_job)
    (full_message,) = outbox_of(any_db, full_job)
    # A job in no pipeline, under no cap: its files' task, as the full path writes it; committed, not yet published.
    assert (message.task, message.args, message.sent_at) == (DOWNLOAD_ARTIFACTS, [lean_job, True], None)
    assert (full_message.task, full_message.args) == (DOWNLOAD_ARTIFACTS, [full_job, True])
    assert [row[0] for row in outcome.follow_ups] == [message.id]
    with open_session(any_db) as session:
        (record,) = session.scalars(select(CallbackRecord).where(CallbackRecord.job_id == lean_job))
    assert (record.verdict, record.upstream_status, record.http_status) == ("applied", "COMPLETE", 200)


@pytest.mark.parametrize("public_url", ["http://127.0.0.1:9", ""], ids=["callbacks", "polling"])
def test_lean_intermediate_merges_and_terminal_replaces_clips(any_db: Settings, public_url: str) -> None:
    any_db = any_db.with_overrides(public_url=public_url or None)
    lean_job, full_job = waiting_job(any_db), waiting_job(any_db)
    running = task(status="IN_PROGRESS", data=[clip(0, "streaming"), clip(1, "streaming")])
    streaming = task(status="STREAMING", data=[{**clip(0, "streaming"), "audio_url": None}, clip(2, "streaming")])
    final = task(data=[clip(0), clip(2)])
    for snapshot in (running, streaming, final):
        assert apply_lean(any_db, lean_job, 1, snapshot, "127.0.0.1") is not None
        full_path(any_db, full_job, snapshot)
        assert clips_of(any_db, lean_job) == clips_of(any_db, full_job), snapshot["status"]
        if snapshot is streaming:  # the audio URL a later snapshot left out is kept until the terminal report
            assert clips_of(any_db, lean_job)[0][4] == "https://cdn1.suno.ai/0.mp3"
            job = job_of(any_db, lean_job)
            assert job.status == "streaming" and job.next_check_at is not None
            grace = (job.next_check_at - job.updated_at).total_seconds()
            assert grace == pytest.approx(next_check_after_news(any_db).total_seconds(), abs=0.5)
            expected = any_db.reconcile_interval if any_db.polling_mode else any_db.callback_grace
            assert grace == pytest.approx(expected, abs=0.5)
    assert [c[0] for c in clips_of(any_db, lean_job)] == ["clip-0", "clip-2"]  # clip-1 is gone


@pytest.mark.parametrize("case", ["unknown job", "foreign task", "attempt never made", "duplicate", "regression",
                                  "streaming refresh", "complete without clips", "lyrics job", "bad clip id"])
def test_lean_declines_everything_else_and_writes_nothing(any_db: Settings, case: str) -> None:
    job_id = waiting_job(any_db, status={"duplicate": "succeeded", "regression": "streaming",
                                         "streaming refresh": "streaming"}.get(case, "submitted"),
                         operation="lyrics" if case == "lyrics job" else "music")
    snapshot = {"foreign task": task(task_id="task-2"), "regression": task(status="IN_PROGRESS", data=[]),
                "streaming refresh": task(status="STREAMING"), "complete without clips": task(data=[]),
                "bad clip id": task(data=[{**clip(0), "id": "x" * 500}])}.get(case, task())
    before = job_of(any_db, job_id)
    target = "no-such-job" if case == "unknown job" else job_id
    assert apply_lean(any_db, target, 2 if case == "attempt never made" else 1, snapshot, "127.0.0.1") is None
    after = job_of(any_db, job_id)
    assert (after.status, after.updated_at) == (before.status, before.updated_at)
    assert clips_of(any_db, job_id) == [] and outbox_of(any_db, job_id) == []
    with open_session(any_db) as session:
        assert list(session.scalars(select(CallbackRecord))) == []


def test_the_receiver_answers_before_the_relay_thread_publishes_and_marks_sent(
    any_db: Settings, redis_url: str
) -> None:
    settings = any_db.with_overrides(broker_url=redis_url)
    job_id = waiting_job(settings)
    client = create_app({"HOOKLINE_SETTINGS": settings, "TESTING": True}).test_client()
    resp = post(client, settings, job_id, task())
    assert resp.status_code == 200 and resp.json == {"ok": True, "verdict": "applied", "status": "succeeded"}
    assert flush_background_relay(30)
    assert queued_messages(redis_url, FILES_QUEUE) == [(DOWNLOAD_ARTIFACTS, [job_id, True])]
    (message,) = outbox_of(settings, job_id)
    assert message.sent_at is not None and message.attempts == 0
    # The same callback again takes the full path: a duplicate, recorded, nothing published.
    assert post(client, settings, job_id, task()).json["verdict"] == "duplicate"
    assert flush_background_relay(30)
    assert queued_messages(redis_url, FILES_QUEUE) == [(DOWNLOAD_ARTIFACTS, [job_id, True])]


def test_the_relay_thread_publishes_batches_it_is_handed_and_skips_nothing(settings: Settings, redis_url: str) -> None:
    on_redis = settings.with_overrides(broker_url=redis_url)
    from shared.outbox import follow_up_values

    rows = [follow_up_values(JOB_FINISHED, [f"job-{n}"], utcnow() - timedelta(seconds=1)) for n in range(50)]
    with open_session(on_redis) as session:
        session.execute(OutboxMessage.__table__.insert(), rows)
        session.commit()
    relay_in_background(on_redis, [(r["id"], r["task"], r["args"]) for r in rows[:25]])
    relay_in_background(on_redis, [r["id"] for r in rows[25:]])  # only ids: read back, then published
    assert flush_background_relay(30)
    expected = sorted((JOB_FINISHED, [f"job-{n}"]) for n in range(50))
    assert sorted(queued_messages(redis_url)) == expected  # each once (the queue is a list pushed at its head)
    with open_session(on_redis) as session:
        assert all(m.sent_at is not None for m in session.scalars(select(OutboxMessage)))

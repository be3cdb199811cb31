"""Issue 11 finding 5: a snapshot that changes no state changes no data; the terminal report replaces the clip
list; invalid clip fields are never stored. Through the real receiver route (and the fetch path's
``record_task_update``), on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import math

import pytest
from sqlalchemy import select

from shared.config import hook_secret
from shared.db import open_session
from shared.jobs.clip_fields import MAX_CLIP_SECONDS, clean_duration, clip_values
from shared.jobs.hook_urls import hook_token
from shared.jobs.updates import record_task_update
from shared.models import CallbackRecord, Clip, Job
from tests.unit.pipeline_rows import accepted_music_job as make_job
from webhook.app import create_app


@pytest.fixture
def client(any_db):
    return create_app({"HOOKLINE_SETTINGS": any_db, "TESTING": True}).test_client()


def snapshot(any_db, job_id):
    """Everything a snapshot could have written: the job's fields and its clips, in order."""
    with open_session(any_db) as s:
        job = s.get(Job, job_id)
        clips = [(c.clip_id, c.position, c.status, c.audio_url, c.duration, c.meta) for c in
                 s.scalars(select(Clip).where(Clip.job_id == job_id).order_by(Clip.position))]
        return {"status": job.status, "progress": job.progress, "updated_at": job.updated_at,
                "next_check_at": job.next_check_at, "error": job.error, "result": job.result, "clips": clips}


def clip(name: str, status="complete", duration=30.0, url=None) -> dict:
    return {"id": name, "title": name.upper(), "status": status, "audio_url": url or f"https://cdn1.suno.ai/{name}.mp3",
            "metadata": {"duration": duration, "tags": "x"}}


def task(status: str, *clips: dict, progress="50%") -> dict:
    return {"task_id": "task-1", "action": "MUSIC", "status": status, "progress": progress, "data": list(clips)}


def post(client, any_db, job_id, body):
    url = f"/hooks/cometapi/{job_id}/1/{hook_token(hook_secret(any_db), job_id, 1)}"
    if isinstance(body, str):
        return client.post(url, data=body, content_type="application/json")
    return client.post(url, json=body)


def verdicts(any_db, job_id) -> list[str]:
    with open_session(any_db) as s:
        return list(s.scalars(select(CallbackRecord.verdict).where(CallbackRecord.job_id == job_id)
                              .order_by(CallbackRecord.id)))


def test_not_start_with_a_new_clip_to_a_submitted_job_stores_nothing(client, any_db):
    job_id = make_job(any_db)
    before = snapshot(any_db, job_id)
    resp = post(client, any_db, job_id, task("NOT_START", clip("c-1", "submitted", -1), progress="5%"))
    assert resp.status_code == 200
    assert resp.json["verdict"] == "duplicate" and resp.json["status"] == "submitted"
    assert snapshot(any_db, job_id) == before  # no clip, no progress, no timestamp
    with open_session(any_db) as s:
        record = s.scalars(select(CallbackRecord).where(CallbackRecord.job_id == job_id)).one()
    assert record.verdict == "duplicate" and "nothing stored" in record.reason


def test_a_fetched_same_status_snapshot_stores_nothing_either(any_db):
    job_id = make_job(any_db, status="running")
    before = snapshot(any_db, job_id)
    with open_session(any_db) as s:
        outcome = record_task_update(s, s.get(Job, job_id), task("IN_PROGRESS", clip("c-1", "streaming")), any_db)
        s.commit()
    assert (outcome.verdict.value, outcome.changed) == ("duplicate", False)
    assert snapshot(any_db, job_id) == before


def test_the_complete_report_replaces_the_streaming_clips(client, any_db):
    job_id = make_job(any_db)
    streaming = task("STREAMING", clip("a", "streaming", 3.5), clip("b", "streaming", 4.0))
    assert post(client, any_db, job_id, streaming).json["verdict"] == "applied"
    assert [c[0] for c in snapshot(any_db, job_id)["clips"]] == ["a", "b"]
    final = task("COMPLETE", clip("c", duration=181.25), clip("b", duration=200.5, url="https://cdn1.suno.ai/final.mp3"),
                 progress="100%")
    assert post(client, any_db, job_id, final).json["verdict"] == "applied"
    after = snapshot(any_db, job_id)
    assert after["status"] == "succeeded"
    assert [(c[0], c[1], c[2], c[3], c[4]) for c in after["clips"]] == [
        ("c", 0, "complete", "https://cdn1.suno.ai/c.mp3", 181.25),
        ("b", 1, "complete", "https://cdn1.suno.ai/final.mp3", 200.5),
    ]
    assert post(client, any_db, job_id, task("STREAMING", clip("a", "streaming"))).json["verdict"] == "ignored"
    assert snapshot(any_db, job_id) == after


def test_a_streaming_update_with_news_is_applied_and_says_so(client, any_db):
    job_id = make_job(any_db, status="running")
    first = task("STREAMING", clip("a", "streaming", 2.0))
    assert post(client, any_db, job_id, first).json["verdict"] == "applied"
    more = task("STREAMING", clip("a", "streaming", None), clip("b", "streaming", 1.0), progress="60%")
    resp = post(client, any_db, job_id, more)
    assert (resp.json["verdict"], resp.json["status"]) == ("applied", "streaming")
    refreshed = snapshot(any_db, job_id)
    assert [(c[0], c[4]) for c in refreshed["clips"]] == [("a", 2.0), ("b", 1.0)]  # a's duration kept until final
    assert refreshed["progress"] == "60%"
    assert post(client, any_db, job_id, more).json["verdict"] == "duplicate"  # the same news twice is no news
    assert snapshot(any_db, job_id) == refreshed
    assert verdicts(any_db, job_id) == ["applied", "applied", "duplicate"]


def test_a_same_status_update_that_only_carries_invalid_fields_is_no_news(client, any_db):
    job_id = make_job(any_db, status="running")
    body = task("STREAMING", clip("a", "streaming", -1))
    assert post(client, any_db, job_id, body).json["verdict"] == "applied"
    stored = snapshot(any_db, job_id)
    assert stored["clips"][0][4] is None
    assert post(client, any_db, job_id, body).json["verdict"] == "duplicate"
    assert post(client, any_db, job_id, task("STREAMING", clip("a", "streaming", "abc"))).json["verdict"] == "duplicate"
    assert snapshot(any_db, job_id) == stored


# The raw JSON texts: NaN and 1e400 (a float infinity to Python's parser) and 10**400 (an int) as the tokens the
# upstream would send, not as strings.
INVALID_DURATIONS = ["-1", "NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 400, '"abc"', "true", "[]",
                     '{"s": 1}', str(int(MAX_CLIP_SECONDS) + 1)]


@pytest.mark.parametrize("duration", INVALID_DURATIONS)
def test_invalid_durations_are_stored_as_none_through_the_receiver(client, any_db, duration):
    job_id = make_job(any_db, status="streaming")
    body = json.dumps(task("COMPLETE", clip("a", duration="DURATION"), clip("b", duration=30.0)))
    resp = post(client, any_db, job_id, body.replace('"DURATION"', duration, 1))
    assert resp.status_code == 200 and resp.json["verdict"] == "applied", resp.json
    clips = snapshot(any_db, job_id)["clips"]
    assert [(c[0], c[4], c[5]["duration"]) for c in clips] == [("a", None, None), ("b", 30.0, 30.0)]
    shown = client.get(f"/v1/jobs/{job_id}")
    assert shown.status_code == 200
    assert [c["duration"] for c in json.loads(shown.get_data(as_text=True))["clips"]] == [None, 30.0]


DEEP: list = [1]
for _ in range(40):
    DEEP = [DEEP]


def test_other_bad_clip_fields_never_reach_the_database(client, any_db):
    job_id = make_job(any_db, status="streaming")
    bad = {"id": "a", "title": {"nested": 1}, "status": "x" * 500, "audio_url": 7, "model_name": "m" * 500,
           "metadata": {"duration": 12.0, "tags": float("nan"), "deep": DEEP}}
    body = json.dumps(task("COMPLETE", bad, bad, progress="1\x00" + "0" * 40))  # json.dumps writes NaN
    resp = post(client, any_db, job_id, body)
    assert resp.status_code == 200 and resp.json["verdict"] == "applied", resp.json
    with open_session(any_db) as s:
        row = s.scalars(select(Clip).where(Clip.job_id == job_id)).one()  # the repeated id is stored once
        progress = s.get(Job, job_id).progress
    assert (row.title, row.audio_url, row.duration, len(row.status), len(row.model_name)) == (None, None, 12.0, 16, 64)
    assert row.meta["tags"] is None and "\x00" not in progress


@pytest.mark.parametrize(("value", "expected"), [
    (30, 30.0), (0, 0.0), (12.5, 12.5), ("12.5", 12.5), (-1, None), (-0.5, None), (math.nan, None),
    (math.inf, None), (10**400, None), (-(10**400), None), ("1e400", None), ("nan", None), ("abc", None),
    ("²", None), (True, None), (None, None), ([], None), (MAX_CLIP_SECONDS + 1, None),
])
def test_clean_duration(value, expected):
    assert clean_duration(value) == expected


def test_clip_values_write_the_cleaned_duration_into_meta():
    values = clip_values({"id": "a", "metadata": {"duration": 10**400, "prompt": "p"}})
    assert values["duration"] is None and values["meta"] == {"duration": None, "prompt": "p"}
    assert clip_values({"id": "a", "metadata": "nope"})["meta"] == {}


def test_a_streaming_refresh_that_loses_the_race_to_complete_changes_nothing(any_db):
    """A receiver loads the job while it streams; another one commits COMPLETE before it writes: the late refresh is
    ignored and the terminal report's clips stay. (The interleaving inside the refresh itself, where this once
    merged "streaming" clips over the report, is exercised under load by tests/e2e/test_many_processes.py.)"""
    job_id = make_job(any_db)
    streaming = task("STREAMING", clip("c-1", "streaming", 30.0), clip("c-2", "streaming", 31.0))
    with open_session(any_db) as s:
        assert record_task_update(s, s.get(Job, job_id), streaming, any_db).verdict.value == "applied"
        s.commit()
    late = open_session(any_db)
    try:
        stale = late.get(Job, job_id)
        assert stale is not None and stale.status == "streaming"
        with open_session(any_db) as s:  # the COMPLETE wins the race and commits first
            complete = task("COMPLETE", clip("c-1", "complete", 30.0), clip("c-2", "complete", 31.0), progress="100%")
            assert record_task_update(s, s.get(Job, job_id), complete, any_db).verdict.value == "applied"
            s.commit()
        outcome = record_task_update(late, stale, streaming, any_db)
        late.commit()
    finally:
        late.close()
    assert (outcome.verdict.value, outcome.changed) == ("ignored", False)
    with open_session(any_db) as s:
        assert s.get(Job, job_id).status == "succeeded"
        assert sorted(s.scalars(select(Clip.status).where(Clip.job_id == job_id))) == ["complete", "complete"]

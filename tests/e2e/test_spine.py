"""One job end to end on real processes: sandbox, receiver, Celery worker + beat, on both brokers."""

from __future__ import annotations

import io
import time

import mutagen.mp3
import pytest
import requests
from sqlalchemy import select

from shared.db import open_session
from shared.models import Attempt
from tests.e2e.driver import create_job, fetches_of, get_job, sandbox_requests, submits, wait_job

SONG = {"prompt": "[Verse]\nNeon on the water\n\n[Chorus]\nHold on", "tags": "synthwave", "title": "Harbour",
        "mv": "chirp-v3.5"}


def test_music_job_completes_by_callback_with_one_submit_and_no_fetch(make_stack, broker_url):
    stack, settings = make_stack(broker_url=broker_url)
    job_id = create_job(stack, "music", SONG)
    job = wait_job(stack, job_id)

    assert job["status"] == "succeeded", job
    assert len(job["clips"]) == 2
    assert all(c["duration"] and c["duration"] > 0 for c in job["clips"])
    sent = submits(stack)
    assert len(sent) == 1, sent
    assert sent[0]["json"]["mv"] == "chirp-v3.5"  # the seed table's dotted spelling, sent as written (issue 14)
    hook = sent[0]["json"]["notify_hook"]
    assert hook.startswith(f"{stack.receiver_url}/hooks/cometapi/{job_id}/1/")
    assert fetches_of(stack, job["upstream_task_id"]) == []
    # The audio is real: its decoded length is the duration the task reported.
    clip = job["clips"][0]
    audio = requests.get(clip["audio_url"], timeout=10)
    assert audio.headers["Content-Type"].startswith("audio/mpeg")
    assert mutagen.mp3.MP3(io.BytesIO(audio.content)).info.length == pytest.approx(clip["duration"], abs=0.15)
    with open_session(settings) as session:
        attempts = session.scalars(select(Attempt).where(Attempt.job_id == job_id)).all()
    assert [(a.outcome, a.endpoint, a.cost_usd) for a in attempts] == [("accepted", "music", 0.144)]
    assert "token" not in str(attempts[0].request_summary) or "<token>" in str(attempts[0].request_summary)


def test_lyrics_job_completes_by_callback(make_stack, broker_url):
    stack, _ = make_stack(broker_url=broker_url)
    job_id = create_job(stack, "lyrics", {"prompt": "a lighthouse keeper"})
    job = wait_job(stack, job_id)
    assert job["status"] == "succeeded", job
    assert job["lyrics"]["text"] and job["lyrics"]["title"]
    assert len(submits(stack, "/suno/submit/lyrics")) == 1
    assert fetches_of(stack, job["upstream_task_id"]) == []


def test_job_completes_by_batched_polling_without_public_url(make_stack, broker_url):
    stack, _ = make_stack(broker_url=broker_url, public=False)
    ids = [create_job(stack, "music", {**SONG, "title": f"Poll {n}"}) for n in range(3)]
    ids.append(create_job(stack, "lyrics", {"prompt": "rain"}))
    jobs = [wait_job(stack, job_id) for job_id in ids]

    assert [j["status"] for j in jobs] == ["succeeded"] * 4
    requests_seen = sandbox_requests(stack)
    assert all("notify_hook" not in (r.get("json") or {})
               for r in requests_seen if r["path"].startswith("/suno/submit"))
    assert not [r for r in requests_seen if r["path"].startswith("/suno/fetch/")], "no single-task fetches"
    batches = [r for r in requests_seen if r["path"] == "/suno/fetch"]
    assert batches, "completed by batched fetches"
    assert all(len(b["json"]["ids"]) <= 50 for b in batches)
    assert {b["json"]["action"] for b in batches} == {"MUSIC", "LYRICS"}
    for batch in batches:  # MUSIC and LYRICS are never mixed in one call
        lyrics_id = jobs[-1]["upstream_task_id"]
        assert (lyrics_id in batch["json"]["ids"]) == (batch["json"]["action"] == "LYRICS")


def test_late_in_progress_after_complete_is_ignored(make_stack, broker_url):
    stack, _ = make_stack(broker_url=broker_url)
    job_id = create_job(stack, "music", SONG)
    done = wait_job(stack, job_id)
    assert done["status"] == "succeeded"
    resp = requests.post(f"{stack.sandbox_url}/_sandbox/tasks/{done['upstream_task_id']}/callback",
                         json={"status": "IN_PROGRESS"}, timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.json()["receiver_status"] == 200
    time.sleep(0.3)
    after = get_job(stack, job_id)
    assert after["status"] == "succeeded"
    assert after["updated_at"] == done["updated_at"]
    assert after["clips"] == done["clips"]

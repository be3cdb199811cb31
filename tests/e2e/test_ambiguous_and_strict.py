"""Paid submits happen once even when the answer is lost; strict mode treats a COMPLETE callback as a hint."""

from __future__ import annotations

import json

import requests
from sqlalchemy import select

from shared.config import hook_secret
from shared.db import open_session
from shared.jobs.hook_urls import hook_token
from shared.models import Attempt
from tests.e2e.driver import create_job, fetches_of, get_job, submits, wait_job

SONG = {"prompt": "[Verse]\nlost answer", "tags": "lofi", "title": "Lost", "mv": "chirp-v4"}


def test_ambiguous_submit_is_recovered_by_its_orphan_callback_with_one_paid_submit(make_stack, broker_url):
    # The upstream accepts the submit but answers after our 1 s read timeout: the answer is lost, the task is not.
    faults = {"ambiguous_rate": 1.0, "ambiguous_sleep": 4.0}
    stack, settings = make_stack(
        broker_url=broker_url,
        env={"COMETAPI_READ_TIMEOUT": "1", "HOOKLINE_AMBIGUOUS_GRACE": "120"},
        sandbox_args=["--step-seconds", "0.5", "--clip-seconds", "4", "--faults", json.dumps(faults)],
    )
    job = wait_job(stack, create_job(stack, "music", SONG), timeout=60)

    assert job["status"] == "succeeded", job
    assert len(submits(stack)) == 1, "exactly one paid submit"
    with open_session(settings) as s:
        rows = s.scalars(select(Attempt).where(Attempt.job_id == job["id"])).all()
    assert [(a.outcome, a.upstream_task_id, a.possible_duplicate) for a in rows] == [
        ("recovered", job["upstream_task_id"], False)]


def test_strict_mode_confirms_complete_by_fetching(make_stack):
    stack, settings = make_stack(env={"HOOKLINE_VERIFY": "fetch"},
                                 sandbox_args=["--step-seconds", "60", "--clip-seconds", "4"])
    job = wait_job(stack, create_job(stack, "music", SONG), until={"submitted"})
    token = hook_token(hook_secret(settings), job["id"], 1)
    clip = {"id": "c", "status": "complete", "audio_url": "https://cdn1.suno.ai/c.mp3", "metadata": {"duration": 3}}
    claim = {"task_id": job["upstream_task_id"], "status": "COMPLETE", "data": [clip, clip]}
    resp = requests.post(f"{stack.receiver_url}/hooks/cometapi/{job['id']}/1/{token}", json=claim, timeout=30)
    assert resp.status_code == 200
    assert get_job(stack, job["id"])["status"] in ("submitted", "running"), "the upstream says it is not done"
    assert fetches_of(stack, job["upstream_task_id"]), "the claim was checked upstream"

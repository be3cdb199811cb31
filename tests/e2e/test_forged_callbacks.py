"""Forged and malformed callbacks are rejected with the documented codes and never change a job."""

from __future__ import annotations

import json

import requests
from sqlalchemy import select

from shared.config import hook_secret
from shared.db import open_session
from shared.jobs.hook_urls import hook_token
from shared.models import CallbackRecord
from tests.e2e.driver import create_job, get_job, wait_job

SONG = {"prompt": "[Verse]\nslow", "tags": "ambient", "title": "Slow", "mv": "chirp-v4"}


def complete_task(task_id: str) -> dict:
    clip = {"id": "forged-clip", "title": "Forged", "status": "complete", "audio_url": "http://evil.example/x.mp3",
            "metadata": {"duration": 1.0}}
    return {"task_id": task_id, "action": "MUSIC", "status": "COMPLETE", "progress": "100%", "data": [clip, clip]}


def test_forged_callbacks_are_rejected_and_change_nothing(make_stack, broker_url):
    # A slow sandbox keeps both jobs in flight, so a forged COMPLETE would be a visible change.
    stack, settings = make_stack(broker_url=broker_url, sandbox_args=["--step-seconds", "60", "--clip-seconds", "6"])
    job_a = wait_job(stack, create_job(stack, "music", SONG), until={"submitted"})
    job_b = wait_job(stack, create_job(stack, "music", {**SONG, "title": "Other"}), until={"submitted"})
    secret = hook_secret(settings)
    token_a, token_b = hook_token(secret, job_a["id"], 1), hook_token(secret, job_b["id"], 1)
    url = f"{stack.receiver_url}/hooks/cometapi"
    good_body = json.dumps(complete_task(job_a["upstream_task_id"]))
    headers = {"Content-Type": "application/json"}

    cases = [
        ("missing token", f"{url}/{job_a['id']}/1", good_body, 401),
        ("empty token", f"{url}/{job_a['id']}/1/", good_body, 401),
        ("wrong token", f"{url}/{job_a['id']}/1/{'A' * 43}", good_body, 401),
        ("another job's token", f"{url}/{job_a['id']}/1/{token_b}", good_body, 401),
        ("token for another attempt", f"{url}/{job_a['id']}/2/{token_a}", good_body, 401),
        ("another job's valid URL with this job's task id", f"{url}/{job_b['id']}/1/{token_b}", good_body, 400),
        ("foreign task id", f"{url}/{job_a['id']}/1/{token_a}", json.dumps(complete_task("not-ours")), 400),
        ("malformed JSON", f"{url}/{job_a['id']}/1/{token_a}", '{"task_id": ', 400),
        ("JSON that is not an object", f"{url}/{job_a['id']}/1/{token_a}", "[1, 2]", 400),
        ("oversize body", f"{url}/{job_a['id']}/1/{token_a}", " " * (2 * 1024 * 1024) + good_body, 413),
        ("unknown job", f"{url}/nosuchjob/1/{hook_token(secret, 'nosuchjob', 1)}", good_body, 404),
    ]
    before = {j: get_job(stack, j) for j in (job_a["id"], job_b["id"])}
    for name, target, body, expected in cases:
        resp = requests.post(target, data=body, headers=headers, timeout=30)
        assert resp.status_code == expected, (name, resp.status_code, resp.text)
        assert token_a not in resp.text and token_b not in resp.text
    wrong_type = requests.post(f"{url}/{job_a['id']}/1/{token_a}", data=good_body,
                               headers={"Content-Type": "text/plain"}, timeout=30)
    assert wrong_type.status_code == 415
    after = {j: get_job(stack, j) for j in before}
    assert after == before

    # Genuine callbacks replayed, or regressing, are answered 200 (so the upstream stops retrying) and change nothing.
    real = f"{url}/{job_b['id']}/1/{token_b}"
    running = {**complete_task(job_b["upstream_task_id"]), "status": "IN_PROGRESS", "data": []}
    assert requests.post(real, json=running, timeout=30).status_code == 200
    moved = get_job(stack, job_b["id"])
    assert moved["status"] == "running"
    for name, body in (("replay", running), ("regression", {**running, "status": "NOT_START"})):
        resp = requests.post(real, json=body, timeout=30)
        assert resp.status_code == 200 and resp.json()["verdict"] in ("duplicate", "ignored"), (name, resp.text)
        now = get_job(stack, job_b["id"])
        assert (now["status"], now["progress"]) == (moved["status"], moved["progress"]), name

    with open_session(settings) as session:
        records = session.scalars(select(CallbackRecord).where(CallbackRecord.verdict == "rejected")).all()
    assert sorted(r.http_status for r in records) == sorted([c[3] for c in cases] + [415])
    stored = " ".join(f"{r.reason} {r.job_id}" for r in records)
    assert token_a not in stored and token_b not in stored
    logs = "".join(p.read_text(errors="replace") for p in (stack.log_dir).glob("*.log"))
    assert token_a not in logs and token_b not in logs

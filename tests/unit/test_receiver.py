"""The callback receiver in-process (Flask test client, real SQLite): shapes accepted, what may change state."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shared.config import hook_secret
from shared.db import open_session
from shared.jobs.hook_urls import hook_token
from shared.models import CallbackRecord, Job
from webhook.app import create_app


@pytest.fixture
def client(settings):
    return create_app({"HOOKLINE_SETTINGS": settings, "TESTING": True}).test_client()


def make_job(settings, status="submitted", task_id="task-1", operation="music", attempts=1) -> str:
    with open_session(settings) as s:
        job = Job(operation=operation, params={}, status=status, upstream_task_id=task_id, attempts=attempts)
        s.add(job)
        s.commit()
        return job.id


def load(settings, job_id) -> Job:
    with open_session(settings) as s:
        job = s.get(Job, job_id)
        _ = job.clips
        return job


def clip(n: int, status="complete", duration=30.0) -> dict:
    return {"id": f"clip-{n}", "title": "T", "status": status, "audio_url": f"https://cdn1.suno.ai/{n}.mp3",
            "image_url": "https://cdn1.suno.ai/i.png", "metadata": {"duration": duration, "tags": "x"}}


def task(task_id="task-1", status="COMPLETE", data=None) -> dict:
    return {"task_id": task_id, "action": "MUSIC", "status": status, "progress": "100%",
            "data": [clip(0), clip(1)] if data is None else data}


def post(client, settings, job_id, body, attempt=1, **kw):
    url = f"/hooks/cometapi/{job_id}/{attempt}/{hook_token(hook_secret(settings), job_id, attempt)}"
    return client.post(url, json=body, **kw)


def test_bare_task_object_completes_job(client, settings):
    job_id = make_job(settings)
    resp = post(client, settings, job_id, task())
    assert resp.status_code == 200 and resp.json["verdict"] == "applied"
    job = load(settings, job_id)
    assert job.status == "succeeded" and [c.duration for c in job.clips] == [30.0, 30.0]


def test_envelope_shape_and_intermediate_callbacks(client, settings):
    job_id = make_job(settings)
    for status, expected in (("IN_PROGRESS", "running"), ("STREAMING", "streaming")):
        data = None if status == "IN_PROGRESS" else [clip(0, "streaming", None), clip(1, "streaming", None)]
        body = {"code": "success", "message": "", "data": task(status=status, data=data or [])}
        assert post(client, settings, job_id, body).status_code == 200
        assert load(settings, job_id).status == expected
    assert post(client, settings, job_id, {"code": "success", "data": task()}).status_code == 200
    assert load(settings, job_id).status == "succeeded"


def test_duplicate_and_regression_are_recorded_not_applied(client, settings):
    job_id = make_job(settings, status="streaming")
    assert post(client, settings, job_id, task()).json["verdict"] == "applied"
    finished = load(settings, job_id)
    assert post(client, settings, job_id, task()).json["verdict"] == "duplicate"
    assert post(client, settings, job_id, task(status="IN_PROGRESS", data=[])).json["verdict"] == "ignored"
    after = load(settings, job_id)
    assert (after.status, after.updated_at) == ("succeeded", finished.updated_at)
    with open_session(settings) as s:
        verdicts = [r.verdict for r in s.scalars(select(CallbackRecord).order_by(CallbackRecord.id))]
    assert verdicts == ["applied", "duplicate", "ignored"]


def test_complete_without_clips_does_not_finish_the_job(client, settings):
    job_id = make_job(settings, status="running")
    assert post(client, settings, job_id, task(data=[])).json["verdict"] == "ignored"
    assert load(settings, job_id).status == "running"


def test_failed_task_records_reason(client, settings):
    job_id = make_job(settings)
    body = {**task(status="FAILED", data=[]), "fail_reason": "content policy"}
    assert post(client, settings, job_id, body).status_code == 200
    job = load(settings, job_id)
    assert (job.status, job.error) == ("failed", "content policy")


def test_callback_that_outruns_the_submit_attaches_its_task(client, settings):
    job_id = make_job(settings, status="submitting", task_id=None)
    assert post(client, settings, job_id, task(task_id="fresh", status="IN_PROGRESS", data=[])).status_code == 200
    job = load(settings, job_id)
    assert (job.status, job.upstream_task_id) == ("running", "fresh")
    assert post(client, settings, job_id, task(task_id="other")).status_code == 400


def test_lyrics_result_is_stored(client, settings):
    job_id = make_job(settings, operation="lyrics")
    body = {"task_id": "task-1", "action": "LYRICS", "status": "COMPLETE",
            "data": {"text": "[Verse]\nla", "title": "La", "status": "complete"}}
    assert post(client, settings, job_id, body).status_code == 200
    assert load(settings, job_id).result == {"lyrics": {"title": "La", "text": "[Verse]\nla"}}


@pytest.mark.parametrize(("body", "code"), [
    ({"task_id": "task-1", "status": "DANCING"}, 400),
    ({"hello": "world"}, 400),
    ({"status": "COMPLETE", "data": []}, 400),
])
def test_bad_bodies_are_400_and_change_nothing(client, settings, body, code):
    job_id = make_job(settings)
    before = load(settings, job_id)
    assert post(client, settings, job_id, body).status_code == code
    after = load(settings, job_id)
    assert (after.status, after.updated_at) == (before.status, before.updated_at)


def test_api_requires_token_when_configured(settings):
    app = create_app({"HOOKLINE_SETTINGS": settings.with_overrides(api_token="s3cret"), "TESTING": True})
    c = app.test_client()
    assert c.get("/v1/jobs/x").status_code == 401
    assert c.get("/v1/jobs/x", headers={"Authorization": "Bearer s3cret"}).status_code == 404


def test_api_rejects_bad_input_naming_the_field(client):
    cases = [
        ({"operation": "dance", "params": {}}, "operation"),
        ({"operation": "music", "params": {"mv": 9, "gpt_description_prompt": "x"}}, "params.mv"),
        ({"operation": "music", "params": {"prompt": "x"}, "extra": 1}, "extra"),
        ({"operation": "music", "params": []}, "params"),
    ]
    for body, field in cases:
        resp = client.post("/v1/jobs", json=body)
        assert resp.status_code == 400, body
        assert resp.json["error"]["field"] == field, resp.json
    assert client.post("/v1/jobs", data="nope", content_type="application/json").status_code == 400

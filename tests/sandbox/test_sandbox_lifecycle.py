"""Tasks move in real time, callbacks follow every change, batch fetch filters, the key is checked."""

from __future__ import annotations

from typing import Any

import requests

from shared.sandbox import create_app, shutdown_sandbox


def test_callbacks_follow_every_state_change_in_order(sandbox: Any, receiver: Any) -> None:
    task_id = sandbox.submit_music({"mv": "chirp-v4", "gpt_description_prompt": "ocean", "notify_hook": receiver.url()})
    statuses = receiver.wait_for(task_id, "COMPLETE")
    assert statuses == ["IN_PROGRESS", "STREAMING", "COMPLETE"]

    last = receiver.bodies(task_id)[-1]
    assert last == sandbox.fetch(task_id)  # the bare task object, same shape as a fetch item
    first = receiver.received[0]
    assert first["path"] == "/hook"
    assert first["headers"]["Content-Type"] == "application/json"
    assert receiver.bodies(task_id)[0]["data"][0]["metadata"]["duration"] is None
    assert [c["metadata"]["duration"] for c in last["data"]] == [2.0, 3.5]


def test_lyrics_callbacks_skip_streaming(sandbox: Any, receiver: Any) -> None:
    response = sandbox.post("suno/submit/lyrics", {"prompt": "trains", "notify_hook": receiver.url()})
    task_id = response.json()["data"]
    assert receiver.wait_for(task_id, "COMPLETE") == ["IN_PROGRESS", "COMPLETE"]
    assert receiver.bodies(task_id)[-1]["data"]["status"] == "complete"


def test_state_advances_without_anyone_polling(sandbox: Any, receiver: Any) -> None:
    task_id = sandbox.submit_music({"mv": "chirp-v4", "gpt_description_prompt": "x", "notify_hook": receiver.url()})
    receiver.wait_for(task_id, "COMPLETE", timeout=3)  # no fetch happened in between
    log = sandbox.get("_sandbox/requests").json()
    assert [e["path"] for e in log] == ["/suno/submit/music"]


def test_batch_fetch_returns_only_tasks_of_the_action(sandbox: Any) -> None:
    music = sandbox.submit_music({"mv": "chirp-v4", "gpt_description_prompt": "x"})
    lyrics = sandbox.post("suno/submit/lyrics", {"prompt": "y"}).json()["data"]
    ids = [lyrics, "unknown-id", music]
    as_music = sandbox.post("suno/fetch", {"ids": ids, "action": "MUSIC"}).json()
    assert as_music["code"] == "success" and [t["task_id"] for t in as_music["data"]] == [music]
    as_lyrics = sandbox.post("suno/fetch", {"ids": ids, "action": "LYRICS"}).json()["data"]
    assert [t["task_id"] for t in as_lyrics] == [lyrics]


def test_bearer_key_is_required_when_configured(start_sandbox: Any) -> None:
    sandbox = start_sandbox(API_KEY="sk-test-123")
    body = {"mv": "chirp-v4", "gpt_description_prompt": "x"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "sk-test-123"}):
        response = requests.post(sandbox.url + "suno/submit/music", json=body, headers=headers, timeout=5)
        assert response.status_code == 401
        assert response.json() == {"code": "error", "message": "Invalid API key provided", "data": None}
    assert requests.get(sandbox.url + "suno/fetch/x", timeout=5).status_code == 401
    assert sandbox.post("suno/submit/music", body).status_code == 200
    log = sandbox.get("_sandbox/requests").json()
    assert "sk-test-123" not in repr(log)
    assert {"method", "path", "json", "time"} <= set(log[0])


def test_reset_forgets_tasks_and_requests(sandbox: Any) -> None:
    task_id = sandbox.submit_music({"mv": "chirp-v4", "gpt_description_prompt": "x"})
    assert sandbox.post("_sandbox/reset", {}).status_code == 200
    assert sandbox.get(f"suno/fetch/{task_id}").status_code == 404
    assert [e["path"] for e in sandbox.get("_sandbox/requests").json()] == [f"/suno/fetch/{task_id}"]


def test_manual_callback_can_replay_a_stale_status(sandbox: Any, receiver: Any) -> None:
    task_id = sandbox.submit_music({"mv": "chirp-v4", "gpt_description_prompt": "x", "notify_hook": receiver.url()})
    receiver.wait_for(task_id, "COMPLETE")
    receiver.answers.append(202)
    answer = sandbox.post(f"_sandbox/tasks/{task_id}/callback", {"status": "IN_PROGRESS"}).json()
    assert answer["receiver_status"] == 202
    late = receiver.bodies(task_id)[-1]
    assert late["status"] == "IN_PROGRESS" and late["finish_time"] > 0  # a late duplicate of a finished task
    bad = sandbox.post(f"_sandbox/tasks/{task_id}/callback", {"status": "DONE"})
    assert bad.status_code == 400


def test_create_app_works_in_process_with_the_flask_test_client() -> None:
    app = create_app({"STEP_SECONDS": 0.2})
    try:
        client = app.test_client()
        response = client.post("/suno/submit/lyrics", json={"prompt": "x"})
        assert response.status_code == 200 and response.get_json()["code"] == "success"
    finally:
        shutdown_sandbox(app)

"""Fault knobs: injected errors, failed tasks, dropped/duplicated/reordered callbacks, retries, ambiguity."""

from __future__ import annotations

from typing import Any

import pytest
import requests

INSPIRATION = {"mv": "chirp-v4", "gpt_description_prompt": "storm"}


def test_faults_can_be_read_and_replaced_at_runtime(sandbox: Any) -> None:
    faults = sandbox.get("_sandbox/faults").json()
    assert faults["error_rate"] == 0 and faults["error_codes"] == [429, 500, 503, 504, 524]
    assert sandbox.post("_sandbox/faults", {"error_rate": 2}).status_code == 400
    assert sandbox.post("_sandbox/faults", {"made_up": 1}).status_code == 400
    replaced = sandbox.post("_sandbox/faults", {"fail_rate": 0.5}).json()
    assert replaced["fail_rate"] == 0.5 and replaced["error_rate"] == 0


def test_error_rate_answers_429_with_retry_after_and_creates_nothing(start_sandbox: Any) -> None:
    sandbox = start_sandbox(FAULTS={"error_rate": 1.0, "error_codes": [429]})
    response = sandbox.post("suno/submit/music", INSPIRATION)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.json()["code"] == "error" and response.json()["data"] is None
    assert sandbox.get("_sandbox/tasks").json() == []
    sandbox.post("_sandbox/faults", {})  # back to no faults
    assert sandbox.post("suno/submit/music", INSPIRATION).status_code == 200
    assert [e["status"] for e in sandbox.get("_sandbox/requests").json()] == [429, 200]


@pytest.mark.parametrize("code", [500, 503, 504, 524])
def test_error_rate_uses_the_configured_codes(start_sandbox: Any, code: int) -> None:
    sandbox = start_sandbox(FAULTS={"error_rate": 1.0, "error_codes": [code]})
    response = sandbox.get("suno/fetch/anything")
    assert response.status_code == code and "Retry-After" not in response.headers


def test_fail_rate_ends_the_task_failed_with_a_reason(start_sandbox: Any, receiver: Any) -> None:
    sandbox = start_sandbox(FAULTS={"fail_rate": 1.0})
    task_id = sandbox.submit_music({**INSPIRATION, "notify_hook": receiver.url()})
    statuses = receiver.wait_for(task_id, "FAILED")
    assert statuses[0] == "IN_PROGRESS" and statuses[-1] == "FAILED" and "COMPLETE" not in statuses
    task = sandbox.fetch(task_id)
    assert task["status"] == "FAILED" and task["fail_reason"] and task["finish_time"] > 0
    assert all(clip["status"] == "error" and clip["metadata"]["error_message"] for clip in task["data"])
    assert requests.get(f"{sandbox.url}cdn/audio/{task['data'][0]['id']}.mp3", timeout=5).status_code == 404


def test_duplicate_callbacks_arrive_twice(start_sandbox: Any, receiver: Any) -> None:
    sandbox = start_sandbox(FAULTS={"duplicate_callbacks": 1.0})
    task_id = sandbox.submit_music({**INSPIRATION, "notify_hook": receiver.url()})
    sandbox.wait_until(lambda: receiver.statuses(task_id).count("COMPLETE") == 2)
    assert sorted(receiver.statuses(task_id)) == sorted(["IN_PROGRESS", "STREAMING", "COMPLETE"] * 2)


def test_dropped_callbacks_never_arrive_but_the_task_completes(start_sandbox: Any, receiver: Any) -> None:
    sandbox = start_sandbox(FAULTS={"drop_callbacks": 1.0})
    task_id = sandbox.submit_music({**INSPIRATION, "notify_hook": receiver.url()})
    sandbox.wait_for_status(task_id, "COMPLETE")
    record = sandbox.get(f"_sandbox/tasks/{task_id}").json()
    assert [c["fault"] for c in record["callbacks"]] == ["dropped"] * 3
    assert receiver.bodies() == []


def test_reordered_callback_arrives_after_its_successor(start_sandbox: Any, receiver: Any) -> None:
    sandbox = start_sandbox(FAULTS={"reorder_callbacks": 1.0, "delay_seconds": 0.3})
    task_id = sandbox.submit_music({**INSPIRATION, "notify_hook": receiver.url()})
    statuses = receiver.wait_for(task_id, "COMPLETE", timeout=5)
    assert statuses == ["STREAMING", "IN_PROGRESS", "COMPLETE"]


def test_failed_callback_posts_are_retried(start_sandbox: Any, receiver: Any) -> None:
    sandbox = start_sandbox(STEP_SECONDS=0.6, CALLBACK_RETRY_DELAY=0.1)
    receiver.answers.extend([500, 503])
    task_id = sandbox.submit_music({**INSPIRATION, "notify_hook": receiver.url()})
    receiver.wait_for(task_id, "STREAMING", timeout=5)
    assert receiver.statuses(task_id)[:4] == ["IN_PROGRESS"] * 3 + ["STREAMING"]
    attempts = sandbox.get(f"_sandbox/tasks/{task_id}").json()["callbacks"][:3]
    assert [(a["attempt"], a["receiver_status"]) for a in attempts] == [(1, 500), (2, 503), (3, 200)]


def test_unreachable_hook_is_tried_retries_plus_one_times(start_sandbox: Any, receiver: Any) -> None:
    sandbox = start_sandbox(CALLBACK_RETRIES=2, CALLBACK_RETRY_DELAY=0.05, CALLBACK_TIMEOUT=0.5, STEP_SECONDS=2)
    dead_url = receiver.url()
    receiver.close()  # nothing listens there any more
    task_id = sandbox.submit_music({**INSPIRATION, "notify_hook": dead_url})

    def in_progress_attempts() -> list[dict[str, Any]]:
        record = sandbox.get(f"_sandbox/tasks/{task_id}").json()
        return [c for c in record["callbacks"] if c["status"] == "IN_PROGRESS"]

    sandbox.wait_until(lambda: len(in_progress_attempts()) == 3, timeout=5)
    attempts = in_progress_attempts()
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert all(a["receiver_status"] is None and a["error"] for a in attempts)


def test_ambiguous_submit_creates_the_task_but_answers_too_late(start_sandbox: Any, receiver: Any) -> None:
    sandbox = start_sandbox(FAULTS={"ambiguous_rate": 1.0, "ambiguous_sleep": 2.0})
    with pytest.raises(requests.ReadTimeout):
        sandbox.post("suno/submit/music", {**INSPIRATION, "notify_hook": receiver.url()}, timeout=0.5)
    tasks = sandbox.get("_sandbox/tasks").json()
    assert len(tasks) == 1
    task_id = tasks[0]["task_id"]
    assert receiver.wait_for(task_id, "COMPLETE")[-1] == "COMPLETE"  # the orphan's callbacks still come
    assert sandbox.get(f"_sandbox/tasks/{task_id}").json()["ambiguous"] is True


def test_slow_seconds_lengthens_the_last_step(start_sandbox: Any) -> None:
    sandbox = start_sandbox(FAULTS={"slow_seconds": 5.0})
    task_id = sandbox.submit_music(INSPIRATION)
    plan = sandbox.get(f"_sandbox/tasks/{task_id}").json()["plan"]
    assert [step["status"] for step in plan] == ["IN_PROGRESS", "STREAMING", "COMPLETE"]
    assert plan[2]["due"] - plan[1]["due"] == pytest.approx(5.1)  # slow_seconds + STEP_SECONDS

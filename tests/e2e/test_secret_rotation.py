"""Rotating HOOKLINE_HOOK_SECRET while jobs are in flight loses no callback (README "Several hosts", rotation).

Jobs are submitted under the secret ``old`` (their notify_hook URLs carry tokens signed with it). With those
jobs still running upstream, the receiver and the worker restart with ``new,old``: the in-flight callbacks still
verify, and jobs submitted after the rotation get URLs signed with ``new``. The sandbox's own record of every
callback it sent shows that none was refused and every terminal one was taken. Then ``old`` is retired, and a
callback with an old token is refused.
"""

from __future__ import annotations

import pytest
import requests

from shared.cli.stack import wait_until
from shared.jobs.hook_urls import hook_token
from tests.e2e.driver import create_job, get_job, submits, wait_job

SONG = {"prompt": "[Verse]\nKeys change hands\n[Chorus]\nThe lock stays", "tags": "indie", "title": "Keys",
        "mv": "chirp-crow"}


def sandbox_callbacks(stack, task_id: str) -> list[dict]:
    return requests.get(f"{stack.sandbox_url}/_sandbox/tasks/{task_id}", timeout=10).json()["callbacks"]


@pytest.mark.e2e
def test_rotation_with_jobs_in_flight_loses_no_callback(make_stack) -> None:
    stack, _ = make_stack(env={"HOOKLINE_HOOK_SECRET": "old"},
                          sandbox_args=["--step-seconds", "3", "--clip-seconds", "6"])
    before = [create_job(stack, "music", {**SONG, "title": f"Before {n}"}) for n in range(3)]
    wait_until(lambda: all(get_job(stack, j)["upstream_task_id"] for j in before), 60, 0.2, "submitted under old")
    assert not any(get_job(stack, j)["status"] == "succeeded" for j in before)  # still in flight upstream

    stack.env["HOOKLINE_HOOK_SECRET"] = "new,old"  # step 1 of the procedure: the new one signs, both verify
    stack.restart("receiver")
    stack.restart("worker0")
    after = [create_job(stack, "music", {**SONG, "title": f"After {n}"}) for n in range(2)]
    jobs = {j: wait_job(stack, j, timeout=120) for j in before + after}
    assert {j["status"] for j in jobs.values()} == {"succeeded"}, jobs

    hooks = {body["json"]["notify_hook"] for body in submits(stack, "/suno/submit/music")}
    for job_id in before + after:
        secret = b"old" if job_id in before else b"new"
        assert any(h.endswith(f"/{job_id}/1/{hook_token(secret, job_id, 1)}") for h in hooks), job_id
    for job_id, job in jobs.items():
        callbacks = sandbox_callbacks(stack, job["upstream_task_id"])
        assert not [c for c in callbacks if c["receiver_status"] == 401], (job_id, callbacks)
        terminal = [c for c in callbacks if c["status"] == "COMPLETE"]
        assert any(c["receiver_status"] and 200 <= c["receiver_status"] < 300 for c in terminal), callbacks

    stack.env["HOOKLINE_HOOK_SECRET"] = "new"  # step 3: the old secret retired
    stack.restart("receiver")
    late = requests.post(f"{stack.sandbox_url}/_sandbox/tasks/{jobs[before[0]]['upstream_task_id']}/callback",
                         json={"status": "IN_PROGRESS"}, timeout=10)
    assert late.json()["receiver_status"] == 401
    late = requests.post(f"{stack.sandbox_url}/_sandbox/tasks/{jobs[after[0]]['upstream_task_id']}/callback",
                         json={"status": "IN_PROGRESS"}, timeout=10)
    assert late.json()["receiver_status"] == 200

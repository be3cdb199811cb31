"""The producer surface on real processes (sandbox, receiver, Celery worker + beat, the `hookline` CLI):
bulk files (killed and resumed, refused when bad), outgoing webhooks (signed, retried, disabled), idempotent
POSTs and per-key isolation."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from contextlib import suppress

import pytest
import requests
from sqlalchemy import func, select

from shared.cli.stack import HOOKLINE, wait_until
from shared.db import open_session
from shared.models import BulkLine, Delivery, DisabledEndpoint, Job
from tests.e2e.driver import submits
from tests.e2e.event_receiver import EventReceiver, verified

pytestmark = pytest.mark.e2e
QUICK_SANDBOX = ["--step-seconds", "0.1", "--clip-seconds", "2"]


@pytest.fixture(autouse=True)
def wired() -> None:
    """These tests need the lead's three integration lines; say which is missing instead of timing out."""
    from shared.cli.main import main
    from shared.config import load_settings
    from shared.outgoing import emit_job_event
    from worker.celery_app import create_celery
    from worker.followups import follow_ups

    missing = [f"`hookline {name}` (shared/cli/main.py)" for name in ("bulk", "apikey", "deliveries", "watch")
               if name not in main.commands]
    include = create_celery(load_settings()).conf.include or ()
    missing += [f"Celery include {module!r} (worker/celery_app.py)" for module in
                ("worker.delivering", "worker.bulk_enqueueing") if module not in include]
    if emit_job_event not in follow_ups():
        missing.append("follow-up emit_job_event (worker/followups.py)")
    if missing:
        pytest.fail("not wired yet: " + "; ".join(missing), pytrace=False)


def started(stack, settings, workers: int = 1):
    """Wait until every worker says it is ready. Work sent while a worker is still declaring its queue on the
    embedded broker can crash it (both insert the queue row: a race in kombu's SQL transport, reported)."""
    logs = [stack.log_dir / f"worker{n}.log" for n in range(workers)]
    wait_until(lambda: all("ready." in (log.read_text(errors="replace") if log.exists() else "") for log in logs),
               60, 0.1, f"{workers} worker(s) ready")
    return stack, settings


def hookline(stack, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HOOKLINE, *args], env=stack.child_env(), capture_output=True, text=True, timeout=timeout,
                          check=False)


def write_lines(path, lines) -> str:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path)


def wait_done(stack, job_id: str, headers: dict[str, str], timeout: float = 60) -> dict:
    """The job once finished, else as it is after ``timeout``: the caller's assertions say what is wrong."""
    def job() -> dict:
        return requests.get(f"{stack.receiver_url}/v1/jobs/{job_id}", headers=headers, timeout=10).json()

    def finished() -> dict | None:
        found = job()
        return found if found["status"] in ("succeeded", "failed", "canceled") else None

    with suppress(TimeoutError):
        return wait_until(finished, timeout, 0.1, f"job {job_id} finished")
    return job()


def count(settings, model, *where) -> int:
    with open_session(settings) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_bulk_killed_halfway_and_rerun_submits_every_line_once(make_stack, tmp_path):
    stack, settings = started(*make_stack(public=False, workers=2, sandbox_args=QUICK_SANDBOX,
                                          env={"HOOKLINE_QUEUED_GRACE": "5", "HOOKLINE_CALLBACK_GRACE": "600"}),
                              workers=2)
    prompts = [f"bulk line {n}" for n in range(1000)]
    path = write_lines(tmp_path / "thousand.jsonl", [{"operation": "lyrics", "params": {"prompt": p}} for p in prompts])
    # Small chunks (one transaction each) for the run to be killed, so it is still mid-file when the lock below is
    # taken; the rerun takes bigger ones: resuming goes by line, not by chunk.
    command = [*HOOKLINE, "bulk", path, "--json", "--chunk-size", "10"]
    first = subprocess.Popen(command, env=stack.child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
    database = settings.database_url.removeprefix("sqlite:///")
    def hundred_accepted() -> bool:
        if count(settings, BulkLine) >= 100:
            return True
        assert first.poll() is None, "the bulk run ended before it could be killed"
        return False

    wait_until(hundred_accepted, 60, 0.005, "100 bulk lines accepted")
    lock = sqlite3.connect(database, timeout=30)  # hold the writers still: the run is now stuck mid-file
    lock.execute("BEGIN IMMEDIATE")
    accepted_when_killed = count(settings, BulkLine)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    lock.rollback()
    lock.close()
    assert 100 <= accepted_when_killed < 1000, accepted_when_killed

    rerun = hookline(stack, "bulk", path, "--json", "--chunk-size", "50")
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["resumed"] and report["already_accepted"] == accepted_when_killed
    assert report["accepted"] == 1000 - accepted_when_killed

    with suppress(TimeoutError):  # the assertions below say what is missing
        wait_until(lambda: not count(settings, Job, Job.status.in_(["queued", "submitting"])), 240, 0.5,
                   "every job submitted")
    assert count(settings, Job) == 1000
    assert count(settings, Job, Job.upstream_task_id.is_not(None)) == 1000
    paid = Counter(r["json"]["prompt"] for r in submits(stack, "/suno/submit/lyrics"))
    assert set(paid) == set(prompts)
    assert max(paid.values()) == 1, [p for p, n in paid.items() if n > 1][:5]


def test_bulk_with_bad_lines_reports_each_and_enqueues_nothing(make_stack, tmp_path):
    stack, settings = started(*make_stack(sandbox_args=QUICK_SANDBOX))
    lines = [{"operation": "lyrics", "params": {"prompt": f"p{n}"}} for n in range(8)]
    lines[2] = {"operation": "lyrics", "params": {}}
    lines[4] = {"operation": "music", "params": {"gpt_description_prompt": "x", "mv": 4}}  # an unknown name is sent
    lines[7] = {"operation": "lyrics", "params": {"prompt": "x"}, "callback_url": "http://localhost:1/x"}
    result = hookline(stack, "bulk", write_lines(tmp_path / "bad.jsonl", lines), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(3, "params.prompt"), (5, "params.mv"),
                                                                  (8, "callback_url")]
    time.sleep(2)  # the worker and beat are running: had anything been enqueued, it would be submitted by now
    assert count(settings, Job) == 0 and submits(stack, "/suno/submit/lyrics") == []


def test_outgoing_webhooks_are_signed_retried_after_500_and_disabled_after_410(make_stack, tmp_path):
    stack, settings = started(*make_stack(sandbox_args=QUICK_SANDBOX, env={
        "HOOKLINE_CALLBACK_ALLOWLIST": "127.0.0.1", "HOOKLINE_WEBHOOK_SCHEDULE": "0.5,1,1"}))
    created = hookline(stack, "apikey", "create", "--name", "e2e", "--json")
    key = json.loads(created.stdout)
    auth = {"Authorization": f"Bearer {key['key']}"}
    with EventReceiver() as receiver:
        receiver.answers = {"/flaky": [500], "/gone": [410]}

        def job_to(path: str, prompt: str) -> str:
            resp = requests.post(f"{stack.receiver_url}/v1/jobs", headers=auth, timeout=10, json={
                "operation": "lyrics", "params": {"prompt": prompt}, "callback_url": receiver.url(path)})
            assert resp.status_code == 202, resp.text
            return resp.json()["id"]

        flaky = job_to("/flaky", "retry me")
        attempts = receiver.wait_for("/flaky", 2)
        events = [verified(key["webhook_secret"], request) for request in attempts]
        assert [e["type"] for e in events] == ["job.succeeded", "job.succeeded"]
        assert events[0]["data"]["id"] == flaky and events[1] == events[0]
        assert attempts[0].headers["webhook-id"] == attempts[1].headers["webhook-id"]
        assert attempts[1].at - attempts[0].at >= 0.3  # the scheduled countdown, with jitter, not an instant retry

        gone = job_to("/gone", "gone endpoint")
        receiver.wait_for("/gone", 1)
        wait_done(stack, gone, auth)
        with suppress(TimeoutError):
            wait_until(lambda: count(settings, DisabledEndpoint), 30, 0.1, "the endpoint disabled")
        later = job_to("/gone", "after the 410")
        wait_done(stack, later, auth)
        with suppress(TimeoutError):
            wait_until(lambda: count(settings, Delivery, Delivery.status == "disabled") >= 2, 30, 0.1,
                       "both deliveries disabled")
        time.sleep(1.5)
        assert len(receiver.at("/gone")) == 1  # the later event is recorded, not sent
        with open_session(settings) as s:
            rows = {d.payload["data"]["id"]: d for d in s.scalars(select(Delivery))}
        assert (rows[flaky].status, rows[flaky].attempts, rows[flaky].last_http_status) == ("delivered", 2, 200)
        assert (rows[gone].status, rows[gone].last_http_status) == ("disabled", 410)
        assert (rows[later].status, rows[later].attempts) == ("disabled", 0)

        listed = hookline(stack, "deliveries", "--failed", "--json")
        assert {d["id"] for d in json.loads(listed.stdout)} == {rows[gone].id, rows[later].id}

        # Work without an API key (the CLI) is signed with the local secret; a batch tells when it is finished.
        local_secret = hookline(stack, "apikey", "webhook-secret", "--local").stdout.strip()
        path = write_lines(tmp_path / "two.jsonl", [{"operation": "lyrics", "params": {"prompt": f"b{n}"}}
                                                    for n in range(2)])
        done = hookline(stack, "bulk", path, "--json", "--wait", "--timeout", "60",
                        "--callback-url", receiver.url("/batch"))
        assert done.returncode == 0, done.stderr
        (finished,) = receiver.wait_for("/batch", 1)
        event = verified(local_secret, finished)
        assert event["type"] == "bulk.finished" and event["data"]["succeeded"] == 2
        assert event["data"]["id"] == json.loads(done.stdout)["bulk_id"]


def test_idempotent_replay_and_keys_cannot_see_each_other(make_stack):
    stack, settings = started(*make_stack(sandbox_args=QUICK_SANDBOX))
    alice, bob = (json.loads(hookline(stack, "apikey", "create", "--name", n, "--json").stdout) for n in ("a", "b"))
    url = f"{stack.receiver_url}/v1/jobs"
    as_alice = {"Authorization": f"Bearer {alice['key']}", "Idempotency-Key": "order-42"}
    body = {"operation": "lyrics", "params": {"prompt": "exactly once"}}
    first = requests.post(url, json=body, headers=as_alice, timeout=10)
    again = requests.post(url, json=body, headers=as_alice, timeout=10)
    assert first.status_code == again.status_code == 202 and first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = requests.post(url, json={**body, "params": {"prompt": "something else"}}, headers=as_alice, timeout=10)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"

    job_id = first.json()["id"]
    as_bob = {"Authorization": f"Bearer {bob['key']}"}
    assert requests.get(f"{url}/{job_id}", headers=as_bob, timeout=10).status_code == 404
    assert requests.post(f"{url}/{job_id}/cancel", headers=as_bob, timeout=10).status_code == 404
    assert requests.get(url, headers=as_bob, timeout=10).json()["data"] == []
    assert requests.get(f"{url}/{job_id}", timeout=10).status_code == 401  # keys exist: no more open access

    job = wait_done(stack, job_id, {"Authorization": f"Bearer {alice['key']}"})
    assert job["status"] == "succeeded"
    assert [r["json"]["prompt"] for r in submits(stack, "/suno/submit/lyrics")] == ["exactly once"]
    assert count(settings, Job) == 1

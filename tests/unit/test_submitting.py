"""The submit path in-process against a real sandbox on loopback: refusals, rejections, ambiguity, budget."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from shared.admission import admit
from shared.cli.stack import wait_until
from shared.db import open_session
from shared.jobs.ledger import requeue_unsent
from shared.models import Attempt, Job
from shared.producer import add_job
from shared.sandbox import start_background_sandbox
from worker.reconciling import reconcile_overdue
from worker.submitting import submit_claimed

SONG = {"prompt": "[Verse]\nla", "tags": "pop", "title": "T", "mv": "chirp-v4"}


@pytest.fixture
def sandbox():
    box = start_background_sandbox({"STEP_SECONDS": 0.2, "CLIP_SECONDS": 3})
    yield box
    box.stop()


def faults(sandbox, **knobs):
    requests.post(f"{sandbox.url}/_sandbox/faults", json=knobs, timeout=5).raise_for_status()


def submits(sandbox) -> int:
    log = requests.get(f"{sandbox.url}/_sandbox/requests", timeout=5).json()
    return sum(1 for r in log if r["path"].startswith("/suno/submit"))


def new_job(settings, params=SONG, operation="music") -> str:
    with open_session(settings) as s:
        job = add_job(s, settings, operation, params)
        s.commit()
    assert job.id in admit(settings).admitted  # admitted (its submit message published): the worker may send it
    return job.id


def attempts(settings, job_id):
    with open_session(settings) as s:
        return list(s.scalars(select(Attempt).where(Attempt.job_id == job_id).order_by(Attempt.id)))


def job_row(settings, job_id) -> Job:
    with open_session(settings) as s:
        return s.get(Job, job_id)


def reconcile_until_succeeded(settings, job_id, timeout: float) -> None:
    """Run the reconciler's sweep until the job has succeeded: no worker or receiver runs in these tests."""
    def succeeded() -> bool:
        if job_row(settings, job_id).status == "succeeded":
            return True
        reconcile_overdue(settings, enqueue=lambda _: None)
        return False

    wait_until(succeeded, timeout=timeout, interval=0.3, what=f"job {job_id} succeeded")


@pytest.fixture
def cfg(settings, sandbox):
    return settings.with_overrides(base_url=sandbox.url, read_timeout=1.0, retry_base=0.01, ambiguous_grace=0.5)


def test_accepted_submit_records_price_and_task(cfg, sandbox):
    job_id = new_job(cfg)
    assert submit_claimed(cfg, job_id).outcome == "accepted"
    assert submit_claimed(cfg, job_id).outcome == "skipped"  # a redelivered message pays nothing
    (a,) = attempts(cfg, job_id)
    assert (a.outcome, a.cost_usd, a.possible_duplicate) == ("accepted", 0.144, False)
    assert job_row(cfg, job_id).status == "submitted" and submits(sandbox) == 1


@pytest.mark.parametrize("code", [429, 500, 504, 524])  # 503 is not retried: test_upstream_fidelity
def test_retryable_refusal_requeues_then_fails_after_max(cfg, sandbox, code):
    faults(sandbox, error_rate=1.0, error_codes=[code])
    job_id = new_job(cfg)
    outcomes = [submit_claimed(cfg, job_id).outcome for _ in range(cfg.submit_max_retries + 1)]
    assert outcomes == ["retry"] * cfg.submit_max_retries + ["failed"]
    rows = attempts(cfg, job_id)
    assert [r.outcome for r in rows] == ["refused"] * (cfg.submit_max_retries + 1)
    assert all(r.cost_usd == 0 and r.http_status == code for r in rows)
    assert "upstream unavailable after 4 tries" in job_row(cfg, job_id).error


def test_bad_request_fails_at_once_with_upstream_message(cfg, sandbox):
    # Valid for our client, refused by the upstream: the extend names a clip it never made.
    job_id = new_job(cfg, {**SONG, "task": "extend", "task_id": "nope", "continue_clip_id": "nope", "continue_at": 5})
    assert submit_claimed(cfg, job_id).outcome == "failed"
    job = job_row(cfg, job_id)
    assert job.status == "failed" and job.error.startswith("upstream rejected:") and "continue_clip_id" in job.error
    assert [a.outcome for a in attempts(cfg, job_id)] == ["rejected"]


def test_ambiguous_submit_waits_then_resubmits_marking_possible_duplicate(cfg, sandbox):
    faults(sandbox, ambiguous_rate=1.0, ambiguous_sleep=2.0, drop_callbacks=1.0)
    job_id = new_job(cfg)
    assert submit_claimed(cfg, job_id).outcome == "ambiguous"
    job = job_row(cfg, job_id)
    assert job.status == "submitting" and "ambiguous" in job.error
    faults(sandbox)  # the upstream recovers; no orphan callback ever came
    import time

    time.sleep(0.6)
    enqueued: list[str] = []
    reconcile_overdue(cfg, enqueue=enqueued.append)
    assert enqueued == [job_id] and job_row(cfg, job_id).status == "queued"
    assert submit_claimed(cfg, job_id).outcome == "accepted"
    rows = attempts(cfg, job_id)
    assert [(r.outcome, r.possible_duplicate) for r in rows] == [("ambiguous", False), ("accepted", True)]
    assert rows[0].cost_usd == 0.144  # the ambiguous one may have been charged: it stays in the ledger


def test_budget_holds_at_admission_refuses_at_submit_before_anything_is_sent_and_retry_requeues(cfg, sandbox):
    capped = cfg.with_overrides(budget_usd_per_day=0.2)
    first = new_job(capped)
    with open_session(capped) as s:  # the admission step holds a job its budget cannot pay for (it waits) ...
        waiting = add_job(s, capped, "music", SONG)
        s.commit()
    assert admit(capped).admitted == [] and job_row(capped, waiting.id).admitted_at is None
    # ... and the submit's own check is the last line of defence: a job admitted when the budget was higher (it
    # was lowered since) is refused before anything is sent
    second = waiting.id
    assert second in admit(cfg).admitted
    assert submit_claimed(capped, first).outcome == "accepted"
    assert submit_claimed(capped, second).outcome == "failed"
    assert submits(sandbox) == 1
    job = job_row(capped, second)
    assert job.status == "failed" and job.error.startswith("budget exceeded")
    assert [a.outcome for a in attempts(capped, second)] == ["budget_refused"]
    with open_session(capped) as s:
        assert requeue_unsent(s, first) is False  # a job the upstream accepted is never requeued
        assert requeue_unsent(s, second) is True
        s.commit()
    raised = capped.with_overrides(budget_usd_per_day=1.0)
    assert submit_claimed(raised, second).outcome == "skipped"  # requeued: waits for admission again
    assert second in admit(raised).admitted
    assert submit_claimed(raised, second).outcome == "accepted"
    assert submits(sandbox) == 2


def test_persona_is_synchronous(cfg, sandbox):
    base = new_job(cfg, {**SONG, "mv": "chirp-auk"})
    submit_claimed(cfg, base)
    reconcile_until_succeeded(cfg.with_overrides(public_url=None), base, timeout=10)
    fetched = requests.get(f"{sandbox.url}/suno/fetch/{job_row(cfg, base).upstream_task_id}", timeout=5).json()
    clip = fetched["data"]["data"][0]
    persona = new_job(cfg, {"root_clip_id": clip["id"], "name": "Voice", "description": "warm", "clips": [clip["id"]],
                            "is_public": False}, operation="persona")
    assert submit_claimed(cfg, persona).outcome == "succeeded"
    assert job_row(cfg, persona).result["persona_id"]


def test_an_in_flight_wait_past_its_deadline_fails_with_the_reason(settings):
    import time

    slow = start_background_sandbox({"STEP_SECONDS": 60, "CLIP_SECONDS": 3})
    try:
        cfg = settings.with_overrides(base_url=slow.url, public_url=None, job_deadline=0.5)
        job_id = new_job(cfg)
        assert submit_claimed(cfg, job_id).outcome == "accepted"
        time.sleep(1.1)
        report = reconcile_overdue(cfg, enqueue=lambda _: None)
        job = job_row(cfg, job_id)
        assert report.timed_out == 1 and job.status == "failed" and job.error.startswith("timed out after ")
    finally:
        slow.stop()


def test_an_export_poll_past_its_deadline_fails_with_the_reason(settings):
    import time

    from worker.polling import poll_job_once

    # Steps of 1 s: the export answers "running" for a whole second, far longer than the deadline below.
    box = start_background_sandbox({"STEP_SECONDS": 1.0, "CLIP_SECONDS": 3})
    try:
        cfg = settings.with_overrides(base_url=box.url, public_url=None, reconcile_interval=0.2)
        base = new_job(cfg)
        submit_claimed(cfg, base)
        reconcile_until_succeeded(cfg, base, timeout=20)
        task = requests.get(f"{box.url}/suno/fetch/{job_row(cfg, base).upstream_task_id}", timeout=5).json()["data"]
        export = new_job(cfg, {"clip_id": task["data"][0]["id"]}, operation="wav")
        quick = cfg.with_overrides(export_deadline=0.1)
        assert submit_claimed(quick, export).outcome == "poll"  # the first answer is "running"
        time.sleep(0.2)
        assert poll_job_once(quick, export).outcome == "failed"
        job = job_row(quick, export)
        assert job.status == "failed" and job.error.startswith("timed out after ")
    finally:
        box.stop()

"""Receiver hardening in-process: orphans of ambiguous attempts, content types, per-source rate limits."""

from __future__ import annotations

from sqlalchemy import select

from shared.config import hook_secret
from shared.db import open_session
from shared.jobs.hook_urls import hook_token
from shared.models import Attempt, Job
from tests.unit.test_receiver import load, task
from webhook.app import create_app
from webhook.source_limits import SourceLimiter


def app_client(settings):
    return create_app({"HOOKLINE_SETTINGS": settings, "TESTING": True}).test_client()


def url(settings, job_id, attempt=1):
    return f"/hooks/cometapi/{job_id}/{attempt}/{hook_token(hook_secret(settings), job_id, attempt)}"


def job_with_attempts(settings, *, status, task_id, outcomes):
    with open_session(settings) as s:
        job = Job(operation="music", params={}, status=status, upstream_task_id=task_id, attempts=len(outcomes))
        s.add(job)
        s.flush()
        for n, (outcome, attempt_task) in enumerate(outcomes, start=1):
            s.add(Attempt(job_id=job.id, attempt_no=n, operation="music", endpoint="music", outcome=outcome,
                          upstream_task_id=attempt_task, cost_usd=0.144))
        s.commit()
        return job.id


def attempt_rows(settings, job_id):
    with open_session(settings) as s:
        return [(a.outcome, a.upstream_task_id) for a in
                s.scalars(select(Attempt).where(Attempt.job_id == job_id).order_by(Attempt.attempt_no))]


def test_orphan_of_ambiguous_attempt_is_attached_not_paid_again(settings):
    job_id = job_with_attempts(settings, status="submitting", task_id=None, outcomes=[("ambiguous", None)])
    resp = app_client(settings).post(url(settings, job_id), json=task(task_id="orphan", status="IN_PROGRESS", data=[]))
    assert resp.status_code == 200
    job = load(settings, job_id)
    assert (job.status, job.upstream_task_id) == ("running", "orphan")
    assert attempt_rows(settings, job_id) == [("recovered", "orphan")]


def test_orphan_reaching_a_requeued_job_attaches_and_the_pending_claim_is_skipped(settings):
    job_id = job_with_attempts(settings, status="queued", task_id=None, outcomes=[("ambiguous", None)])
    assert app_client(settings).post(url(settings, job_id), json=task(task_id="orphan")).status_code == 200
    assert load(settings, job_id).status == "succeeded"
    from worker.submitting import submit_claimed

    assert submit_claimed(settings, job_id).outcome == "skipped"


def test_late_orphan_after_resubmit_is_recorded_and_a_finished_one_wins(settings):
    job_id = job_with_attempts(settings, status="running", task_id="second",
                               outcomes=[("ambiguous", None), ("accepted", "second")])
    client = app_client(settings)
    resp = client.post(url(settings, job_id, 1), json=task(task_id="first", status="IN_PROGRESS", data=[]))
    assert resp.status_code == 200 and resp.json["verdict"] == "ignored"
    assert load(settings, job_id).upstream_task_id == "second"
    resp = client.post(url(settings, job_id, 1), json=task(task_id="first"))
    assert resp.json["verdict"] == "applied"
    job = load(settings, job_id)
    assert (job.status, job.upstream_task_id) == ("succeeded", "first")
    assert attempt_rows(settings, job_id) == [("late_orphan", "first"), ("accepted", "second")]


def test_foreign_task_on_a_clean_attempt_is_still_rejected(settings):
    job_id = job_with_attempts(settings, status="running", task_id="mine", outcomes=[("accepted", "mine")])
    assert app_client(settings).post(url(settings, job_id), json=task(task_id="theirs")).status_code == 400
    assert load(settings, job_id).status == "running"


def test_wrong_content_type_is_415_and_changes_nothing(settings):
    job_id = job_with_attempts(settings, status="running", task_id="task-1", outcomes=[("accepted", "task-1")])
    import json

    client = app_client(settings)
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        resp = client.post(url(settings, job_id), data=json.dumps(task()), content_type=ctype)
        assert resp.status_code == 415, ctype
    assert load(settings, job_id).status == "running"
    resp = client.post(url(settings, job_id), data=json.dumps(task()), content_type="application/json; charset=utf-8")
    assert resp.status_code == 200 and load(settings, job_id).status == "succeeded"


def test_per_source_limit_slows_token_guessing_but_never_genuine_callbacks(settings):
    client = app_client(settings.with_overrides(hook_rate_per_source=5.0))
    job_id = job_with_attempts(settings, status="running", task_id="task-1", outcomes=[("accepted", "task-1")])
    genuine = [client.post(url(settings, job_id), json=task(status="STREAMING", data=[])).status_code
               for _ in range(40)]
    assert genuine == [200] * 40, "valid callbacks spend nothing"
    codes = [client.post("/hooks/cometapi/x/1/bad", json={}).status_code for _ in range(30)]
    assert codes[:10] == [401] * 10 and 429 in codes
    other = client.post("/hooks/cometapi/x/1/bad", json={}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 401


def test_source_limiter_refills():
    limiter = SourceLimiter(2.0)
    assert all(limiter.allow("a", now=0.0) == 0.0 for _ in range(4))
    assert limiter.allow("a", now=0.0) > 0
    assert limiter.allow("a", now=1.0) == 0.0


def test_source_limiter_retry_after_spends_nothing():
    limiter = SourceLimiter(1.0)  # bursts of 2
    assert limiter.retry_after("a", now=0.0) == 0.0
    assert [limiter.allow("a", now=0.0) for _ in range(2)] == [0.0, 0.0]
    assert limiter.retry_after("a", now=0.0) == limiter.retry_after("a", now=0.0) == 1.0
    assert limiter.retry_after("a", now=0.5) == 0.5

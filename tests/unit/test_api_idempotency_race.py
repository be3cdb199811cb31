"""Idempotency-Key under real concurrency: 8 POSTs with one key, sent at once from 8 threads to the API served by a
real HTTP server, on SQLite and on PostgreSQL. Each route ends with exactly one created object and one paid submit
per job, no 5xx, and every answer is the original 2xx (same body) or 409 ``idempotency_in_progress``.

The queue is replaced by a recorder of every message the API publishes (a submit message is what gets paid for).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from shared.config import Settings
from shared.db import open_session
from shared.models import BulkBatch, Delivery, Job, Pipeline
from shared.states import JobStatus, transition
from shared.tasks import DOWNLOAD_ARTIFACTS, ENQUEUE_SUBMITS, JOB_FINISHED, SUBMIT_JOB
from tests.unit.api_clients import LYRICS, api_client

RACERS = 8
SPEC = {"steps": {"words": {"op": "lyrics", "params": {"prompt": "a lighthouse"}}}}




@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every task message the API sends: (task name, first argument)."""
    sent: list[tuple[str, Any]] = []
    lock = threading.Lock()

    def record(_settings: Settings, name: str, *args: Any, countdown: float | None = None) -> None:
        with lock:
            sent.append((name, args[0] if args else None))

    def record_in_order(_settings: Settings, messages: Any) -> tuple[int, None]:
        """The outbox relay's way out: a finished job's follow-ups go through here."""
        with lock:
            sent.extend((name, args[0] if args else None) for name, args in messages)
        return len(messages), None

    monkeypatch.setattr("shared.tasks.send", record)
    monkeypatch.setattr("shared.outbox.publish_in_order", record_in_order)
    return sent


def submitted(published: list[tuple[str, Any]]) -> list[str]:
    """The job ids handed to the workers for a paid submit, one entry per message."""
    ids: list[str] = []
    for name, arg in published:
        if name == SUBMIT_JOB:
            ids.append(arg)
        elif name == ENQUEUE_SUBMITS:
            ids.extend(arg)
    return ids


@pytest.fixture
def server(any_db: Settings) -> Iterator[str]:
    """The API app on a real threaded HTTP server (werkzeug), on a free port."""
    app = api_client(any_db).application
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(10)
        httpd.server_close()


def race(url: str, key: str, **kwargs: Any) -> list[requests.Response]:
    """RACERS POSTs of the same request with the same key, released together."""
    start = threading.Barrier(RACERS)

    def one(_: int) -> requests.Response:
        with requests.Session() as http:
            start.wait(10)
            return http.post(url, headers={"Idempotency-Key": key, **kwargs.pop("headers", {})}, timeout=120,
                             **kwargs)

    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(one, range(RACERS)))


def one_answer(answers: list[requests.Response], status: int) -> dict[str, Any]:
    """No 5xx; each answer is the original one or 409 in progress; returns the original body."""
    statuses = sorted(a.status_code for a in answers)
    assert all(s < 500 for s in statuses), [(a.status_code, a.text[:300]) for a in answers]
    created = [a for a in answers if a.status_code == status]
    assert created, statuses
    bodies = {json.dumps(a.json(), sort_keys=True) for a in created}
    assert len(bodies) == 1, bodies
    for other in answers:
        if other.status_code != status:
            assert other.status_code == 409, (other.status_code, other.text)
            assert other.json()["error"]["code"] == "idempotency_in_progress"
            assert int(other.headers["Retry-After"]) >= 1
    return dict(created[0].json())


def count(settings: Settings, column: Any, *where: Any) -> int:
    with open_session(settings) as s:
        return int(s.scalar(select(func.count(column)).where(*where)) or 0)


def test_jobs_race_creates_one_job(any_db, server, published):
    body = one_answer(race(f"{server}/v1/jobs", "race-job", json=LYRICS), 202)
    assert count(any_db, Job.id) == 1
    assert submitted(published) == [body["id"]]


def test_pipelines_race_creates_one_pipeline(any_db, server, published):
    body = one_answer(race(f"{server}/v1/pipelines", "race-pipe", json={"spec": SPEC}), 202)
    assert count(any_db, Pipeline.id) == 1 and count(any_db, Job.id) == 1
    with open_session(any_db) as s:
        job_id = s.scalar(select(Job.id).where(Job.pipeline_id == body["id"]))
    assert submitted(published) == [job_id]


def test_bulk_race_creates_one_batch(any_db, server, published):
    lines = "".join(json.dumps({"operation": "lyrics", "params": {"prompt": f"topic {n}"}}) + "\n" for n in range(30))
    body = one_answer(race(f"{server}/v1/bulk", "race-bulk", data=lines,
                           headers={"Content-Type": "application/x-ndjson"}), 202)
    assert count(any_db, BulkBatch.id) == 1 and count(any_db, Job.id) == 30
    assert body["accepted"] == 30
    ids = submitted(published)
    # Once each; as many as the admission window lets out (the rest wait as rows for the next admission step).
    assert sorted(ids) == sorted(set(ids)) and len(ids) == min(30, any_db.admission_window)


def test_job_cancel_and_retry_races_act_once(any_db, server, published):
    job_id = requests.post(f"{server}/v1/jobs", json=LYRICS, timeout=30).json()["id"]
    one_answer(race(f"{server}/v1/jobs/{job_id}/cancel", "race-cancel"), 200)
    # Its follow-ups once (a job in no pipeline, under no cap: straight to its files' task).
    assert [arg for name, arg in published if name in (JOB_FINISHED, DOWNLOAD_ARTIFACTS)] == [job_id]
    retry = one_answer(race(f"{server}/v1/jobs/{job_id}/retry", "race-retry"), 202)
    assert count(any_db, Job.id) == 2 and retry["retry_of"] == job_id
    assert submitted(published) == [job_id, retry["id"]]


def test_pipeline_cancel_and_retry_races_act_once(any_db, server, published):
    pipeline = {"spec": SPEC, "callback_url": "http://127.0.0.1:9/p"}
    pipeline_id = requests.post(f"{server}/v1/pipelines", json=pipeline, timeout=30).json()["id"]
    canceled = one_answer(race(f"{server}/v1/pipelines/{pipeline_id}/cancel", "race-pcancel"), 200)
    assert canceled["status"] == "canceled"
    assert count(any_db, Delivery.id, Delivery.event_type == "pipeline.canceled") == 1
    retried = one_answer(race(f"{server}/v1/pipelines/{pipeline_id}/retry", "race-pretry"), 202)
    assert len(retried["jobs"]) == 1 and count(any_db, Job.id) == 2
    first = [arg for name, arg in published if name == SUBMIT_JOB][0]
    assert submitted(published) == [first, *retried["jobs"]]


def test_retry_of_a_failed_job_race(any_db, server, published):
    job_id = requests.post(f"{server}/v1/jobs", json=LYRICS, timeout=30).json()["id"]
    with open_session(any_db) as s:
        transition(s, job_id, JobStatus.FAILED, error="x")
        s.commit()
    retry = one_answer(race(f"{server}/v1/jobs/{job_id}/retry", "race-retry-failed"), 202)
    assert count(any_db, Job.id) == 2 and submitted(published) == [job_id, retry["id"]]

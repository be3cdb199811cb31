"""Idempotency-Key on every POST: replay of the first 2xx answer, 422 for a different request, one effect even
under concurrent requests, 409 while the first request runs, and a crashed request's claim that expires.
(Races over a real HTTP server, on SQLite and PostgreSQL: test_api_idempotency_race.py.)"""

from __future__ import annotations

import importlib
import threading
from datetime import timedelta

from sqlalchemy import func, select, update

from shared.db import open_session
from shared.models import BulkBatch, IdempotencyRecord, Job, Pipeline, utcnow
from shared.states import JobStatus, transition
from tests.unit.api_clients import LYRICS, api_client, bearer, new_key


def jobs(settings) -> int:
    with open_session(settings) as s:
        return int(s.scalar(select(func.count(Job.id))) or 0)


def test_same_key_same_request_replays_the_first_answer(settings):
    client = api_client(settings)
    first = client.post("/v1/jobs", json=LYRICS, headers={"Idempotency-Key": "order-1"})
    again = client.post("/v1/jobs", json={"params": LYRICS["params"], "operation": "lyrics"},  # key order aside
                        headers={"Idempotency-Key": "order-1"})
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert jobs(settings) == 1


def test_same_key_different_request_is_422(settings):
    client = api_client(settings)
    client.post("/v1/jobs", json=LYRICS, headers={"Idempotency-Key": "k"})
    resp = client.post("/v1/jobs", json={"operation": "lyrics", "params": {"prompt": "other"}},
                       headers={"Idempotency-Key": "k"})
    assert resp.status_code == 422 and resp.json["error"]["code"] == "idempotency_key_reused"
    assert resp.json["error"]["field"] == "Idempotency-Key"
    job_id = client.get("/v1/jobs").json["data"][0]["id"]
    assert client.post(f"/v1/jobs/{job_id}/cancel", headers={"Idempotency-Key": "k"}).status_code == 422
    assert jobs(settings) == 1


def test_refused_requests_are_not_stored_so_the_key_can_be_used_again(settings):
    client = api_client(settings)
    bad = client.post("/v1/jobs", json={"operation": "lyrics", "params": {}}, headers={"Idempotency-Key": "k"})
    assert bad.status_code == 400
    good = client.post("/v1/jobs", json=LYRICS, headers={"Idempotency-Key": "k"})
    assert good.status_code == 202 and jobs(settings) == 1


def test_keys_belong_to_one_api_key(settings):
    client = api_client(settings)
    alice, bob = new_key(settings, "alice"), new_key(settings, "bob")
    a = client.post("/v1/jobs", json=LYRICS, headers={**bearer(alice), "Idempotency-Key": "same"})
    b = client.post("/v1/jobs", json=LYRICS, headers={**bearer(bob), "Idempotency-Key": "same"})
    assert a.json["id"] != b.json["id"] and jobs(settings) == 2
    with open_session(settings) as s:
        owners = set(s.scalars(select(IdempotencyRecord.api_key_id)))
    assert owners == {alice.id, bob.id}


def test_concurrent_requests_with_one_key_create_one_job(settings):
    app_client = api_client(settings)
    app = app_client.application
    answers: list[tuple[int, str]] = []

    def send() -> None:
        resp = app.test_client().post("/v1/jobs", json=LYRICS, headers={"Idempotency-Key": "race"})
        answers.append((resp.status_code, resp.json.get("id") or resp.json["error"]["code"]))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert jobs(settings) == 1
    assert {status for status, _ in answers} == {202} and len({ident for _, ident in answers}) == 1


def test_retry_with_a_key_is_replayed_not_refused(settings):
    client = api_client(settings)
    job_id = client.post("/v1/jobs", json=LYRICS).json["id"]
    with open_session(settings) as s:
        transition(s, job_id, JobStatus.FAILED, error="x")
        s.commit()
    first = client.post(f"/v1/jobs/{job_id}/retry", headers={"Idempotency-Key": "retry-1"})
    again = client.post(f"/v1/jobs/{job_id}/retry", headers={"Idempotency-Key": "retry-1"})
    assert first.status_code == again.status_code == 202 and first.json == again.json
    assert client.post(f"/v1/jobs/{job_id}/retry").status_code == 409  # without the key: already retried


def test_bad_keys_are_400(settings):
    client = api_client(settings)
    for key in ("", " ", "x" * 256):
        resp = client.post("/v1/jobs", json=LYRICS, headers={"Idempotency-Key": key})
        assert resp.status_code == 400 and resp.json["error"]["field"] == "Idempotency-Key"


BULK = "".join(f'{{"operation": "lyrics", "params": {{"prompt": "topic {n}"}}}}\n' for n in range(3))
SPEC = {"steps": {"words": {"op": "lyrics", "params": {"prompt": "a lighthouse"}}}}


def key_row(settings, key: str) -> IdempotencyRecord | None:
    with open_session(settings) as s:
        return s.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == key))


def test_pipeline_key_with_another_body_is_422_and_creates_nothing(settings):
    client = api_client(settings)
    first = client.post("/v1/pipelines", json={"spec": SPEC}, headers={"Idempotency-Key": "p"})
    again = client.post("/v1/pipelines", json={"spec": SPEC}, headers={"Idempotency-Key": "p"})
    assert first.status_code == 202 and again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/v1/pipelines", json={"spec": SPEC, "name": "x"}, headers={"Idempotency-Key": "p"})
    assert other.status_code == 422 and other.json["error"]["code"] == "idempotency_key_reused"
    with open_session(settings) as s:
        assert s.scalar(select(func.count(Pipeline.id))) == 1
    assert jobs(settings) == 1


def test_a_refused_pipeline_or_bulk_releases_its_key(settings):
    client = api_client(settings)
    invalid = {"spec": {"steps": {"a": {"op": "sing"}}}}
    bad = client.post("/v1/pipelines", json=invalid, headers={"Idempotency-Key": "r"})
    assert bad.status_code == 400 and key_row(settings, "r") is None
    assert client.post("/v1/pipelines", json={"spec": SPEC}, headers={"Idempotency-Key": "r"}).status_code == 202
    bad = client.post("/v1/bulk", data='{"operation": "dance"}\n', headers={"Idempotency-Key": "b"})
    assert bad.status_code == 400 and key_row(settings, "b") is None
    assert client.post("/v1/bulk", data=BULK, headers={"Idempotency-Key": "b"}).status_code == 202
    assert key_row(settings, "b").status == "done"


def test_a_duplicate_while_the_first_runs_gets_409_then_the_answer(settings, monkeypatch):
    api_bulk = importlib.import_module("webhook.api.bulk")  # the package re-exports a Blueprint of that name

    client, started, finish = api_client(settings), threading.Event(), threading.Event()
    real = api_bulk.accept_bulk

    def slow(*args, **kwargs):
        started.set()
        assert finish.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(api_bulk, "accept_bulk", slow)
    answers = []
    first = threading.Thread(target=lambda: answers.append(client.application.test_client().post(
        "/v1/bulk", data=BULK, headers={"Idempotency-Key": "slow"})))
    first.start()
    assert started.wait(30)
    busy = client.post("/v1/bulk", data=BULK, headers={"Idempotency-Key": "slow"})
    assert busy.status_code == 409 and busy.json["error"]["code"] == "idempotency_in_progress"
    assert busy.headers["Retry-After"] == "1"
    other = client.post("/v1/bulk", data=BULK + BULK.replace("topic", "other"), headers={"Idempotency-Key": "slow"})
    assert other.status_code == 422
    finish.set()
    first.join(30)
    assert answers[0].status_code == 202
    replay = client.post("/v1/bulk", data=BULK, headers={"Idempotency-Key": "slow"})
    assert replay.json == answers[0].json and replay.headers["Idempotent-Replayed"] == "true"
    with open_session(settings) as s:
        assert s.scalar(select(func.count(BulkBatch.id))) == 1
    assert jobs(settings) == 3


def test_a_crashed_requests_claim_expires_and_the_key_can_be_used_again(settings, monkeypatch):
    api_bulk = importlib.import_module("webhook.api.bulk")  # the package re-exports a Blueprint of that name
    import webhook.api.idempotency as idempotency

    client = api_client(settings)
    real = api_bulk.accept_bulk

    def crash(*args, **kwargs):
        raise RuntimeError("the process died here")

    monkeypatch.setattr(api_bulk, "accept_bulk", crash)
    monkeypatch.setattr(idempotency, "_release", lambda claim: None)  # as if killed: nothing cleans up
    assert client.post("/v1/bulk", data=BULK, headers={"Idempotency-Key": "crash"}).status_code == 500
    assert key_row(settings, "crash").status == "in_progress"
    monkeypatch.setattr(api_bulk, "accept_bulk", real)
    assert client.post("/v1/bulk", data=BULK, headers={"Idempotency-Key": "crash"}).status_code == 409
    with open_session(settings) as s:
        s.execute(update(IdempotencyRecord).values(claimed_at=utcnow() - idempotency.CLAIM_TTL - timedelta(seconds=1)))
        s.commit()
    retried = client.post("/v1/bulk", data=BULK, headers={"Idempotency-Key": "crash"})
    assert retried.status_code == 202 and retried.json["accepted"] == 3
    row = key_row(settings, "crash")
    assert (row.status, row.status_code, row.response) == ("done", 202, retried.json)


def test_an_expired_claim_is_taken_over_in_one_transaction_too(settings):
    client = api_client(settings)
    with open_session(settings) as s:
        s.add(IdempotencyRecord(key="old", request_hash="another request", status="in_progress",
                                claimed_at=utcnow() - timedelta(minutes=11), response={}))
        s.commit()
    resp = client.post("/v1/jobs", json=LYRICS, headers={"Idempotency-Key": "old"})
    assert resp.status_code == 202 and key_row(settings, "old").status == "done" and jobs(settings) == 1
    assert client.post("/v1/jobs", json=LYRICS, headers={"Idempotency-Key": "old"}).json == resp.json


def test_a_long_bulk_keeps_its_claim_alive(settings, monkeypatch):
    api_bulk = importlib.import_module("webhook.api.bulk")  # the package re-exports a Blueprint of that name

    client, real, seen = api_client(settings), api_bulk.accept_bulk, []

    def in_small_chunks(*args, on_progress, **kwargs):
        def progress(report):
            on_progress(report)
            seen.append(key_row(settings, "long").claimed_at)

        return real(*args, chunk_size=1, on_progress=progress, **kwargs)

    monkeypatch.setattr(api_bulk, "accept_bulk", in_small_chunks)
    assert client.post("/v1/bulk", data=BULK, headers={"Idempotency-Key": "long"}).status_code == 202
    assert len(seen) == 3 and seen == sorted(seen) and len(set(seen)) == 3

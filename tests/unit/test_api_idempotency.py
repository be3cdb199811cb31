"""Idempotency-Key on every POST: replay of the first 2xx answer, 422 for a different request, one effect even
under concurrent requests."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from shared.db import open_session
from shared.models import IdempotencyRecord, Job
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

"""/v1/bulk (JSONL or CSV body) and /v1/costs (spend per UTC day, per key)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import func, select

from shared.db import open_session
from shared.models import Attempt, BulkBatch, Job
from tests.unit.api_clients import api_client, assert_matches, bearer, new_key


def body(*lines) -> str:
    return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)


def lyric(n: int) -> dict:
    return {"operation": "lyrics", "params": {"prompt": f"topic {n}"}}


def test_bulk_body_is_accepted_and_its_progress_readable(settings):
    client = api_client(settings)
    resp = client.post("/v1/bulk?name=night&rate=3", data=body(*(lyric(n) for n in range(5))),
                       content_type="application/x-ndjson")
    assert resp.status_code == 202, resp.json
    assert_matches("BulkAccepted", resp.json)
    assert (resp.json["accepted"], resp.json["rate"]) == (5, 3.0)
    progress = client.get(f"/v1/bulk/{resp.json['id']}").json
    assert_matches("BulkProgress", progress)
    assert (progress["name"], progress["total"], progress["queued"], progress["rate"]) == ("night", 5, 5, 3.0)
    again = client.post("/v1/bulk?name=night&rate=3", data=body(*(lyric(n) for n in range(6))))
    assert (again.json["id"], again.json["accepted"], again.json["already_accepted"]) == (resp.json["id"], 1, 5)


def test_bad_lines_are_all_listed_and_nothing_is_accepted(settings):
    client = api_client(settings)
    resp = client.post("/v1/bulk", data=body(lyric(1), {"operation": "dance"}, "{nope", lyric(4),
                                             {"operation": "lyrics", "params": {}}))
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_lines"
    assert [d["line"] for d in resp.json["error"]["details"]] == [2, 3, 5]
    with open_session(settings) as s:
        assert s.scalar(select(func.count(Job.id))) == 0 and s.scalar(select(BulkBatch.id)) is None
    skipped = client.post("/v1/bulk?skip_invalid=true", data=body(lyric(1), {"operation": "dance"}))
    assert skipped.status_code == 202 and (skipped.json["accepted"], skipped.json["invalid"]) == (1, 1)


def test_csv_body_and_bad_options(settings):
    client = api_client(settings)
    resp = client.post("/v1/bulk", data="operation,prompt\nlyrics,a cat\nlyrics,a dog\n", content_type="text/csv")
    assert resp.status_code == 202 and resp.json["accepted"] == 2
    for query, field in (("rate=0", "rate"), ("rate=fast", "rate"), ("skip_invalid=maybe", "skip_invalid"),
                         ("format=xml", "format"), ("callback_url=http://localhost/x", "callback_url"),
                         ("urgency=1", "urgency")):
        bad = client.post(f"/v1/bulk?{query}", data=body(lyric(1)))
        assert bad.status_code == 400 and bad.json["error"]["field"] == field, (query, bad.json)
    empty = client.post("/v1/bulk", data="")
    assert empty.status_code == 400 and empty.json["error"]["code"] == "empty"


def test_bulk_idempotency_key_replays(settings):
    client = api_client(settings)
    first = client.post("/v1/bulk", data=body(lyric(1)), headers={"Idempotency-Key": "b1"})
    again = client.post("/v1/bulk", data=body(lyric(1)), headers={"Idempotency-Key": "b1"})
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert client.post("/v1/bulk", data=body(lyric(2)), headers={"Idempotency-Key": "b1"}).status_code == 422


def add_attempt(settings, job_id, cost, when):
    with open_session(settings) as s:
        s.add(Attempt(job_id=job_id, attempt_no=1, operation="lyrics", endpoint="lyrics", outcome="accepted",
                      cost_usd=cost, started_at=when))
        s.commit()


def test_costs_per_day_and_per_key(settings):
    client = api_client(settings)
    alice, bob = new_key(settings, "alice"), new_key(settings, "bob")
    a = client.post("/v1/jobs", json=lyric(1), headers=bearer(alice)).json["id"]
    b = client.post("/v1/jobs", json=lyric(2), headers=bearer(bob)).json["id"]
    add_attempt(settings, a, 0.144, datetime(2026, 3, 1, 23, 59, tzinfo=UTC))
    add_attempt(settings, a, 0.02, datetime(2026, 3, 2, 0, 1, tzinfo=UTC))
    add_attempt(settings, b, 0.04, datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    add_attempt(settings, a, 0.0, datetime(2026, 3, 2, 12, 0, tzinfo=UTC))  # a free fetch: not a paid call

    mine = client.get("/v1/costs?since=2026-03-01&until=2026-03-03", headers=bearer(alice)).json
    assert_matches("Costs", mine)
    assert mine["days"] == [{"day": "2026-03-01", "cost_usd": 0.144, "paid_calls": 1},
                            {"day": "2026-03-02", "cost_usd": 0.02, "paid_calls": 1}]
    assert mine["total_usd"] == 0.164
    assert client.get("/v1/costs?since=2026-03-02&until=2026-03-02", headers=bearer(bob)).json["total_usd"] == 0.04
    for query in ("since=March", "since=2026-03-05&until=2026-03-01", "since=2020-01-01&until=2026-01-01"):
        resp = client.get(f"/v1/costs?{query}", headers=bearer(alice))
        assert resp.status_code == 400, query

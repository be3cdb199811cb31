"""/v1/jobs: create, read, list (filters, cursor pages), cancel and retry; bad input is a 4xx naming the field."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from shared.db import open_session
from shared.models import Attempt, Job, utcnow
from shared.states import JobStatus, transition
from tests.unit.api_clients import LYRICS, api_client, assert_matches

SONG = {"operation": "music", "params": {"gpt_description_prompt": "a cat", "mv": "chirp-v3.5"}}


def set_status(settings, job_id, *path: JobStatus) -> None:
    with open_session(settings) as s:
        for status in path:
            assert transition(s, job_id, status, error="boom" if status == JobStatus.FAILED else None)
        s.commit()


def test_create_and_read_a_job_with_callback_url(settings):
    client = api_client(settings)
    resp = client.post("/v1/jobs", json={**SONG, "callback_url": "http://127.0.0.1:9/hook"})
    assert resp.status_code == 202 and set(resp.json) == {"id"}
    job = client.get(f"/v1/jobs/{resp.json['id']}").json
    assert_matches("Job", job)
    assert job["status"] == "queued" and job["callback_url"] == "http://127.0.0.1:9/hook"


def test_bad_input_is_a_4xx_naming_the_field(settings):
    client = api_client(settings)
    cases = [
        ({"operation": "lyrics", "params": {}}, "params.prompt"),
        ({**LYRICS, "callback_url": "http://localhost/x"}, "callback_url"),
        ({**LYRICS, "callback_url": 7}, "callback_url"),
        ({**LYRICS, "urgency": 1}, "urgency"),
    ]
    for body, field in cases:
        resp = client.post("/v1/jobs", json=body)
        assert resp.status_code == 400 and resp.json["error"]["field"] == field, (body, resp.json)
        assert_matches("Error", resp.json)
    assert client.post("/v1/jobs", data="[]", content_type="application/json").status_code == 400
    assert client.post("/v1/jobs", data="x" * (2 * 1024 * 1024), content_type="application/json").status_code == 413
    for query in ("status=done", "operation=dance", "created_after=yesterday", "limit=0", "limit=500",
                  "cursor=nope", "colour=red"):
        resp = client.get(f"/v1/jobs?{query}")
        assert resp.status_code == 400, (query, resp.json)
        assert resp.json["error"]["field"] == query.split("=")[0]
    assert client.get("/v1/jobs/nope").status_code == 404


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                     max_size=3), max_leaves=8),
       operation=st.sampled_from(["lyrics", "music", "udio", "persona", "wav", "x", 3]))
def test_no_body_makes_a_server_error(settings, body, operation):
    client = api_client(settings)
    for payload in (body, {"operation": operation, "params": body}):
        assert client.post("/v1/jobs", json=payload).status_code in (202, 400)


def test_list_filters_and_cursor_pages(settings):
    client = api_client(settings)
    ids = [client.post("/v1/jobs", json=SONG if n % 2 else LYRICS).json["id"] for n in range(7)]
    with open_session(settings) as s:  # spread creation times so the order is known
        for n, job_id in enumerate(ids):
            s.execute(update(Job).where(Job.id == job_id).values(created_at=utcnow() - timedelta(minutes=10 - n)))
        s.commit()
    set_status(settings, ids[0], JobStatus.FAILED)

    seen, cursor = [], None
    while True:
        page = client.get("/v1/jobs?limit=3" + (f"&cursor={cursor}" if cursor else "")).json
        assert_matches("JobPage", page)
        seen.append([j["id"] for j in page["data"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [ids[6:3:-1], ids[3:0:-1], [ids[0]]]  # newest first, no overlap, nothing missed
    assert [j["id"] for j in client.get("/v1/jobs?status=failed").json["data"]] == [ids[0]]
    assert {j["operation"] for j in client.get("/v1/jobs?operation=music").json["data"]} == {"music"}
    assert len(client.get("/v1/jobs?status=queued,failed&operation=lyrics,music").json["data"]) == 7
    with open_session(settings) as s:
        middle = s.get(Job, ids[3]).created_at
    after = client.get(f"/v1/jobs?created_after={middle.isoformat()}").json["data"]
    assert [j["id"] for j in after] == ids[6:3:-1]


def test_cancel_is_a_compare_and_set(settings):
    client = api_client(settings)
    queued = client.post("/v1/jobs", json=LYRICS).json["id"]
    resp = client.post(f"/v1/jobs/{queued}/cancel")
    assert resp.status_code == 200 and resp.json["status"] == "canceled"
    assert client.post(f"/v1/jobs/{queued}/cancel").status_code == 200  # again: still canceled, no error
    done = client.post("/v1/jobs", json=LYRICS).json["id"]
    set_status(settings, done, JobStatus.SUBMITTING, JobStatus.SUCCEEDED)
    resp = client.post(f"/v1/jobs/{done}/cancel")
    assert resp.status_code == 409 and resp.json["error"]["code"] == "not_cancelable"
    assert client.get(f"/v1/jobs/{done}").json["status"] == "succeeded"


def test_retry_makes_a_new_job_only_for_failed_or_canceled_ones(settings):
    client = api_client(settings)
    done = client.post("/v1/jobs", json=LYRICS).json["id"]
    set_status(settings, done, JobStatus.SUBMITTING, JobStatus.SUCCEEDED)
    resp = client.post(f"/v1/jobs/{done}/retry")
    assert resp.status_code == 409 and "only failed or canceled" in resp.json["error"]["message"]  # never re-paid

    failed = client.post("/v1/jobs", json={**SONG, "callback_url": "http://127.0.0.1:9/h"}).json["id"]
    set_status(settings, failed, JobStatus.FAILED)
    resp = client.post(f"/v1/jobs/{failed}/retry")
    assert resp.status_code == 202 and resp.json["retry_of"] == failed and "warning" not in resp.json
    assert_matches("JobRetried", resp.json)
    new = client.get(f"/v1/jobs/{resp.json['id']}").json
    old = client.get(f"/v1/jobs/{failed}").json
    with open_session(settings) as s:
        params = [s.get(Job, j).params for j in (failed, new["id"])]
    assert params[0] == params[1] and new["status"] == "queued" and new["callback_url"] == "http://127.0.0.1:9/h"
    assert old["status"] == "failed" and old["result"]["retried_as"] == new["id"]
    again = client.post(f"/v1/jobs/{failed}/retry")
    assert again.status_code == 409 and new["id"] in again.json["error"]["message"]
    with open_session(settings) as s:
        assert s.scalar(select(func.count(Job.id))) == 3


def test_retry_warns_when_the_earlier_submit_may_have_been_charged(settings):
    client = api_client(settings)
    job_id = client.post("/v1/jobs", json=LYRICS).json["id"]
    set_status(settings, job_id, JobStatus.SUBMITTING, JobStatus.FAILED)
    with open_session(settings) as s:
        s.add(Attempt(job_id=job_id, attempt_no=1, operation="lyrics", endpoint="lyrics", outcome="ambiguous",
                      cost_usd=0.02))
        s.commit()
    resp = client.post(f"/v1/jobs/{job_id}/retry")
    assert resp.status_code == 202 and "may have been charged" in resp.json["warning"]


def test_pipeline_step_jobs_are_retried_through_their_pipeline(settings):
    client = api_client(settings)
    job_id = client.post("/v1/jobs", json=LYRICS).json["id"]
    set_status(settings, job_id, JobStatus.FAILED)
    with open_session(settings) as s:
        from shared.models import Pipeline

        pipeline = Pipeline(name="p", spec={}, status="failed")
        s.add(pipeline)
        s.flush()
        s.execute(update(Job).where(Job.id == job_id).values(pipeline_id=pipeline.id))
        s.commit()
    resp = client.post(f"/v1/jobs/{job_id}/retry")
    assert resp.status_code == 409 and "/retry" in resp.json["error"]["message"]

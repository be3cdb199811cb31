"""/v1/pipelines through shared.pipelines (skipped when that package is not installed)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shared.db import open_session
from shared.models import Delivery
from tests.unit.api_clients import api_client, assert_matches, bearer, new_key

pytest.importorskip("shared.pipelines", reason="pipelines (shared.pipelines) are not installed in this tree")

SPEC = {"steps": {"words": {"op": "lyrics", "params": {"prompt": "a lighthouse"}}}}


def test_create_read_list_cancel_retry(settings):
    client = api_client(settings)
    resp = client.post("/v1/pipelines", json={"spec": SPEC, "name": "night", "callback_url": "http://127.0.0.1:9/p"})
    assert resp.status_code == 202, resp.json
    pipeline_id = resp.json["id"]
    view = client.get(f"/v1/pipelines/{pipeline_id}").json
    assert_matches("Pipeline", view)
    assert (view["name"], view["status"], view["callback_url"]) == ("night", "running", "http://127.0.0.1:9/p")
    page = client.get("/v1/pipelines?status=running").json
    assert_matches("PipelinePage", page)
    assert [p["id"] for p in page["data"]] == [pipeline_id]

    canceled = client.post(f"/v1/pipelines/{pipeline_id}/cancel")
    assert canceled.status_code == 200 and canceled.json["status"] == "canceled"
    with open_session(settings) as s:
        assert s.scalar(select(Delivery.event_type)) == "pipeline.canceled"
    retried = client.post(f"/v1/pipelines/{pipeline_id}/retry")
    assert retried.status_code == 202 and retried.json["id"] == pipeline_id and len(retried.json["jobs"]) == 1
    assert client.get(f"/v1/pipelines/{pipeline_id}").json["status"] == "running"
    assert client.post(f"/v1/pipelines/{pipeline_id}/retry").status_code == 409  # nothing failed: nothing to do


def test_invalid_specs_list_every_error(settings):
    client = api_client(settings)
    spec = {"steps": {"a": {"op": "sing"}, "b": {"op": "extend", "from": "nowhere"}}}
    resp = client.post("/v1/pipelines", json={"spec": spec})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_spec"
    assert len(resp.json["error"]["details"]) >= 2
    for bad in ({"spec": "steps: {}"}, {"spec": SPEC, "name": 5}, {"spec": SPEC, "colour": 1},
                {"spec": SPEC, "callback_url": "http://10.0.0.1/"}):
        assert client.post("/v1/pipelines", json=bad).status_code == 400, bad


def test_another_keys_pipeline_is_404(settings):
    client = api_client(settings)
    alice, bob = new_key(settings, "alice"), new_key(settings, "bob")
    pipeline_id = client.post("/v1/pipelines", json={"spec": SPEC}, headers=bearer(alice)).json["id"]
    for method, path in (("get", f"/v1/pipelines/{pipeline_id}"), ("post", f"/v1/pipelines/{pipeline_id}/cancel"),
                         ("post", f"/v1/pipelines/{pipeline_id}/retry")):
        assert getattr(client, method)(path, headers=bearer(bob)).status_code == 404
    assert client.get("/v1/pipelines", headers=bearer(bob)).json["data"] == []
    assert client.get(f"/v1/pipelines/{pipeline_id}", headers=bearer(alice)).json["status"] == "running"

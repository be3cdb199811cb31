"""Who may call /v1 and what each caller sees: open mode, API keys (each sees only its own), the admin token."""

from __future__ import annotations

import json

from sqlalchemy import update

from shared.db import open_session
from shared.models import ApiKey
from tests.unit.api_clients import ADMIN_TOKEN, LYRICS, api_client, bearer, new_key


def test_open_until_a_key_or_token_exists(settings):
    client = api_client(settings)
    assert client.get("/v1/jobs").status_code == 200  # embedded dev default: no credentials configured
    job_id = client.post("/v1/jobs", json=LYRICS).json["id"]
    key = new_key(settings)
    resp = client.get(f"/v1/jobs/{job_id}")
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert resp.json["error"]["code"] == "unauthorized"
    assert client.get(f"/v1/jobs/{job_id}", headers=bearer(key)).status_code == 404  # not this key's job


def test_admin_token_closes_the_api_and_sees_everything(settings):
    client = api_client(settings, admin_token=ADMIN_TOKEN)
    assert client.get("/v1/jobs").status_code == 401
    assert client.get("/v1/jobs", headers=bearer("wrong")).status_code == 401
    key = new_key(settings)
    mine = client.post("/v1/jobs", json=LYRICS, headers=bearer(key)).json["id"]
    listed = client.get("/v1/jobs", headers=bearer(ADMIN_TOKEN)).json["data"]
    assert [j["id"] for j in listed] == [mine]
    assert client.get(f"/v1/jobs/{mine}", headers=bearer(ADMIN_TOKEN)).status_code == 200


def test_one_key_cannot_read_cancel_or_retry_another_keys_work(settings, tmp_path):
    client = api_client(settings)
    alice, bob = new_key(settings, "alice"), new_key(settings, "bob")
    job = client.post("/v1/jobs", json=LYRICS, headers=bearer(alice)).json["id"]
    batch = client.post("/v1/bulk", data=json.dumps(LYRICS) + "\n", headers=bearer(alice)).json["id"]

    for method, path in (("get", f"/v1/jobs/{job}"), ("post", f"/v1/jobs/{job}/cancel"),
                         ("post", f"/v1/jobs/{job}/retry"), ("get", f"/v1/bulk/{batch}")):
        resp = getattr(client, method)(path, headers=bearer(bob))
        assert resp.status_code == 404, (path, resp.json)
        assert resp.json["error"]["code"] == "not_found"
    assert client.get("/v1/jobs", headers=bearer(bob)).json["data"] == []
    assert client.get("/v1/bulk", headers=bearer(bob)).json["data"] == []
    assert client.get(f"/v1/jobs/{job}", headers=bearer(alice)).json["status"] == "queued"  # untouched
    assert [b["id"] for b in client.get("/v1/bulk", headers=bearer(alice)).json["data"]] == [batch]


def test_disabled_key_is_refused(settings):
    client = api_client(settings)
    key = new_key(settings)
    assert client.get("/v1/jobs", headers=bearer(key)).status_code == 200
    with open_session(settings) as s:
        s.execute(update(ApiKey).values(disabled=True))
        s.commit()
    assert client.get("/v1/jobs", headers=bearer(key)).status_code == 401


def test_keys_are_stored_hashed(settings):
    key = new_key(settings)
    with open_session(settings) as s:
        row = s.get(ApiKey, key.id)
        assert row is not None and key.key not in row.key_hash and len(row.key_hash) == 64


def test_documents_and_health_need_no_credentials(settings):
    client = api_client(settings, admin_token=ADMIN_TOKEN)
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/healthz").status_code == 200

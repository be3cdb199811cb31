"""Priority and per-key limits at every entry point (CLI, HTTP API, Python, bulk, pipelines), bad values refused
with a one-line error that changes nothing, and what a queued job's view says about its place and wait."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from shared.admission import admit
from shared.bulk.accept import accept_bulk
from shared.bulk.source import BulkSource
from shared.cli.producer import apikey
from shared.db import open_session
from shared.models import ApiKey, Job
from shared.pipelines.runs import create_pipeline
from shared.producer import submit_job
from tests.unit.api_clients import api_client, assert_matches, bearer, new_key

WORDS = {"prompt": "a song about waiting"}


@pytest.fixture
def run(settings, base_env, monkeypatch):
    for name, value in base_env.items():
        monkeypatch.setenv(name, value)
    return lambda *args: CliRunner().invoke(apikey, list(args), catch_exceptions=False)


def key_row(settings, key_id) -> ApiKey:
    with open_session(settings) as s:
        return s.get(ApiKey, key_id)


def test_cli_sets_and_clears_a_keys_limits_and_refuses_bad_values(run, settings):
    created = json.loads(run("create", "--name", "acme", "--max-in-flight", "2", "--rate", "0.5", "--json").stdout)
    row = key_row(settings, created["id"])
    assert (row.max_in_flight, row.rate, row.default_priority) == (2, 0.5, None)
    updated = run("update", created["id"], "--rate", "none", "--priority", "bulk", "--json")
    assert updated.exit_code == 0 and json.loads(updated.stdout)["default_priority"] == "bulk"
    row = key_row(settings, created["id"])
    assert (row.max_in_flight, row.rate, row.default_priority) == (2, None, 0)
    for args, option in ((["--max-in-flight", "0"], "--max-in-flight"), (["--rate", "-1"], "--rate"),
                         (["--rate", "fast"], "--rate"), (["--priority", "urgent"], "--priority")):
        bad = CliRunner().invoke(apikey, ["update", created["id"], *args])
        assert bad.exit_code == 2 and option in bad.output and "Traceback" not in bad.output
    assert key_row(settings, created["id"]).max_in_flight == 2  # refused input changed nothing
    missing = CliRunner().invoke(apikey, ["update", "nope", "--rate", "1"])
    assert missing.exit_code == 2 and "no key 'nope'" in missing.output
    assert "max in flight 2" in run("list").stdout


def test_admin_api_limits_keys_and_a_key_may_not(settings):
    admin = api_client(settings, admin_token="admin-token")
    auth = bearer("admin-token")
    created = new_key(settings)
    key_id = created.id
    first = admin.patch(f"/v1/keys/{key_id}", json={"max_in_flight": 3, "default_priority": 150}, headers=auth)
    assert first.status_code == 200 and first.json["default_priority"] == 150 and first.json["max_in_flight"] == 3
    changed = admin.patch(f"/v1/keys/{key_id}", json={"rate": 2, "max_in_flight": None}, headers=auth)
    assert changed.status_code == 200 and changed.json["rate"] == 2.0 and changed.json["max_in_flight"] is None
    assert_matches("ApiKey", changed.json)
    bad = admin.patch(f"/v1/keys/{key_id}", json={"rate": 0}, headers=auth)
    assert bad.status_code == 400 and bad.json["error"]["field"] == "rate"
    assert admin.patch("/v1/keys/nope", json={"rate": 1}, headers=auth).status_code == 404
    assert admin.patch(f"/v1/keys/{key_id}", json={"colour": 1}, headers=auth).status_code == 400
    listed = admin.get("/v1/keys", headers=auth).json["data"]
    assert [k["rate"] for k in listed] == [2.0] and "key" not in listed[0]
    assert admin.get("/v1/keys", headers=bearer(created)).status_code == 403
    assert admin.patch(f"/v1/keys/{key_id}", json={"rate": 9}, headers=bearer(created)).status_code == 403


def test_priority_defaults_and_overrides_at_each_entry_point(settings, tmp_path):
    single = submit_job("lyrics", WORDS, settings=settings)
    urgent = submit_job("lyrics", WORDS, settings=settings, priority=250)
    lines = tmp_path / "f.jsonl"
    lines.write_text("".join(json.dumps({"operation": "lyrics", "params": {"prompt": f"p{i}"}}) + "\n"
                             for i in range(2)))
    report = accept_bulk(settings, BulkSource.from_path(lines))
    lines2 = tmp_path / "g.jsonl"
    lines2.write_text(json.dumps({"operation": "lyrics", "params": {"prompt": "other"}}) + "\n")
    pipelined = accept_bulk(settings, BulkSource.from_path(lines2), priority="pipeline")
    spec = {"steps": {"words": {"op": "lyrics", "params": WORDS}}}
    pipeline_id = create_pipeline(settings, spec)
    with open_session(settings) as s:
        by_id = {j.id: j for j in s.scalars(select(Job))}
        assert by_id[single].priority == 200 and by_id[urgent].priority == 250
        assert {j.priority for j in by_id.values() if j.bulk_id == report.bulk_id} == {0}
        assert {j.priority for j in by_id.values() if j.bulk_id == pipelined.bulk_id} == {100}
        assert {(j.priority, j.queue_group) for j in by_id.values() if j.pipeline_id == pipeline_id} == {
            (100, pipeline_id)}
        assert {j.owner for j in by_id.values()} == {"local"}


def test_http_priority_key_default_and_the_queued_jobs_view(settings):
    capped = settings.with_overrides(max_in_flight=1, api_token="admin-token")
    admin = api_client(capped, admin_token="admin-token")
    key = new_key(capped)
    with open_session(capped) as s:
        s.get(ApiKey, key.id).default_priority = 0
        s.commit()
    client = api_client(capped)
    first = client.post("/v1/jobs", json={"operation": "lyrics", "params": WORDS}, headers=bearer(key))
    second = client.post("/v1/jobs", json={"operation": "lyrics", "params": WORDS}, headers=bearer(key))
    urgent = client.post("/v1/jobs", json={"operation": "lyrics", "params": WORDS, "priority": "interactive"},
                         headers=bearer(key))
    assert (first.status_code, second.status_code, urgent.status_code) == (202, 202, 202)
    bad = client.post("/v1/jobs", json={"operation": "lyrics", "params": WORDS, "priority": "asap"},
                      headers=bearer(key))
    assert bad.status_code == 400 and bad.json["error"]["field"] == "priority"
    view = client.get(f"/v1/jobs/{first.json['id']}", headers=bearer(key)).json
    assert view["priority"] == 0 and view["queue"]["admitted"] is True and view["queue"]["position"] == 0
    assert_matches("Job", view)
    waiting = client.get(f"/v1/jobs/{second.json['id']}", headers=bearer(key)).json["queue"]
    assert waiting["position"] == 2 and "higher priority" in waiting["reason"] and "in-flight cap" in waiting["reason"]
    top = client.get(f"/v1/jobs/{urgent.json['id']}", headers=bearer(key)).json["queue"]
    assert top["position"] == 1 and "in-flight cap reached (1 of 1)" in top["reason"]
    assert admin.get(f"/v1/jobs/{urgent.json['id']}", headers=bearer("admin-token")).status_code == 200
    assert admit(capped).admitted == []


def test_watch_metrics_and_dashboard_show_the_queue(settings, base_env, monkeypatch):
    from shared.cli.watch import watch
    from tests.unit.test_dashboard_login import PASSWORD, client_for, log_in
    from tests.unit.test_metrics import scrape, value

    capped = settings.with_overrides(max_in_flight=1)
    running = submit_job("lyrics", WORDS, settings=capped)
    waiting = [submit_job("lyrics", WORDS, settings=capped, priority="bulk") for _ in range(3)]
    for name, val in base_env.items():
        monkeypatch.setenv(name, val)
    snapshot = json.loads(CliRunner().invoke(watch, ["--json"], catch_exceptions=False).stdout)
    rows = {j["id"]: j for j in snapshot["oldest_jobs"]}
    assert rows[running]["queue"]["admitted"] is True
    assert rows[waiting[2]]["queue"]["position"] == 3 and "in-flight cap" in rows[waiting[2]]["queue"]["reason"]
    assert snapshot["admission"]["waiting"] == [{"priority": "bulk", "owner": "local", "jobs": 3}]
    shown = CliRunner().invoke(watch, ["--once"], catch_exceptions=False).stdout
    assert "in flight 1 of 1" in shown and "bulk/local 3" in shown

    samples = scrape(capped)
    assert value(samples, "hookline_queue_depth", priority="bulk", owner="local") == 3
    assert value(samples, "hookline_admission_wait_seconds_count", priority="200") == 1
    assert value(samples, "hookline_admitted_in_flight") == 1

    client = client_for(capped)
    assert log_in(client, PASSWORD) in (200, 302, 303)
    page = client.get(f"/ui/jobs/{waiting[0]}").text
    assert "position 1" in page and "in-flight cap reached (1 of 1)" in page
    assert "nothing waits for admission" not in client.get("/ui/health").text


def test_cli_submit_takes_a_priority_and_refuses_a_bad_one_writing_nothing(settings, base_env, monkeypatch):
    from shared.cli.main import main

    for name, val in base_env.items():
        monkeypatch.setenv(name, val)

    def hookline(*args: str):
        return CliRunner().invoke(main, ["submit", *args])

    def count() -> int:
        with open_session(settings) as s:
            return len(list(s.scalars(select(Job.id))))

    for word in ("interactive-number", "pipelin", "1001", "1.5", ""):
        bad = hookline("lyrics", "--prompt", "x", "--priority", word)
        assert bad.exit_code == 2 and "Traceback" not in bad.output
        last = bad.stderr.strip().splitlines()[-1]
        assert last.startswith("Error: Invalid value for '--priority'") and "interactive, pipeline, bulk" in last
    assert count() == 0  # a refused priority wrote no row
    made = {}
    for args, expected in ((["lyrics", "--prompt", "x"], 200), (["lyrics", "--prompt", "x", "--priority", "bulk"], 0),
                           (["music", "--description", "x", "--priority", "-7"], -7),
                           (["extend", "--continue-clip-id", "c1", "--continue-at", "10", "--mv", "chirp-v4",
                             "--priority", "Pipeline"], 100)):
        result = hookline(*args)
        assert result.exit_code == 0, result.output
        made[result.stdout.strip()] = expected
    with open_session(settings) as s:
        assert {j.id: j.priority for j in s.scalars(select(Job))} == made
    assert "--priority" in hookline("gen-stem", "--help").stdout


def test_a_job_waiting_on_its_budget_says_so_in_the_api_and_watch(any_db, base_env, monkeypatch):
    from shared.cli.watch import watch

    key = new_key(any_db)
    with open_session(any_db) as s:
        s.get(ApiKey, key.id).budget_usd_per_day = 0.03  # one lyrics job (0.02) fits, the second does not
        s.commit()
    client = api_client(any_db)
    ids = [client.post("/v1/jobs", json={"operation": "lyrics", "params": WORDS}, headers=bearer(key)).json["id"]
           for _ in range(2)]
    local = submit_job("lyrics", WORDS, settings=any_db)  # another owner: not held by that key's budget
    first = client.get(f"/v1/jobs/{ids[0]}", headers=bearer(key)).json["queue"]
    assert first["admitted"] is True
    held = client.get(f"/v1/jobs/{ids[1]}", headers=bearer(key)).json
    assert held["status"] == "queued" and held["queue"]["admitted"] is False
    assert held["queue"]["reason"].startswith("daily budget reached (API key 'acme' budget: USD 0.020 of 0.03")
    assert_matches("Job", held)
    for name, val in {**base_env, "HOOKLINE_DATABASE_URL": any_db.database_url}.items():
        monkeypatch.setenv(name, val)
    snapshot = json.loads(CliRunner().invoke(watch, ["--json"], catch_exceptions=False).stdout)
    rows = {j["id"]: j for j in snapshot["oldest_jobs"]}
    assert rows[local]["queue"]["admitted"] is True
    assert "daily budget reached" in rows[ids[1]]["queue"]["reason"]
    assert snapshot["admission"]["owners"][key.id].startswith("daily budget reached")
    admin = api_client(any_db, admin_token="admin-token")
    bad = admin.patch(f"/v1/keys/{key.id}", json={"budget_usd_per_day": 0}, headers=bearer("admin-token"))
    assert bad.status_code == 400 and bad.json["error"]["field"] == "budget_usd_per_day"
    raised = admin.patch(f"/v1/keys/{key.id}", json={"budget_usd_per_day": 1}, headers=bearer("admin-token"))
    assert raised.status_code == 200 and raised.json["budget_usd_per_day"] == 1.0
    assert_matches("ApiKey", raised.json)
    assert client.get(f"/v1/jobs/{ids[1]}", headers=bearer(key)).json["queue"]["admitted"] is True  # admitted now


def test_cli_update_sets_a_keys_budget_and_admits_what_it_held(run, settings):
    created = json.loads(run("create", "--name", "acme", "--budget", "0.01", "--json").stdout)
    held = submit_job("lyrics", WORDS, settings=settings, api_key_id=created["id"])
    with open_session(settings) as s:
        assert s.get(Job, held).admitted_at is None  # 0.02 does not fit in 0.01
    for value in ("0", "cheap", "nan", "-3"):
        bad = CliRunner().invoke(apikey, ["update", created["id"], "--budget", value])
        assert bad.exit_code == 2 and "--budget" in bad.output and "Traceback" not in bad.output
    assert key_row(settings, created["id"]).budget_usd_per_day == 0.01
    shown = json.loads(run("update", created["id"], "--budget", "2", "--json").stdout)
    assert shown["budget_usd_per_day"] == 2.0
    with open_session(settings) as s:
        assert s.get(Job, held).admitted_at is not None  # the update ran an admission step
    run("update", created["id"], "--budget", "none")
    assert key_row(settings, created["id"]).budget_usd_per_day is None

"""`hookline deliveries`: list (all or failed) and redeliver, against a real endpoint."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from shared.apikeys import webhook_secret_for
from shared.cli.producer import deliveries
from shared.db import open_session
from shared.models import Job, utcnow
from shared.outgoing import deliver, emit_job_event
from tests.e2e.event_receiver import EventReceiver, verified


@pytest.fixture
def env(settings, base_env, monkeypatch):
    for name, value in {**base_env, "HOOKLINE_CALLBACK_ALLOWLIST": "127.0.0.1",
                        "HOOKLINE_WEBHOOK_SCHEDULE": "0"}.items():
        monkeypatch.setenv(name, value)
    return settings.with_overrides(callback_allowlist=("127.0.0.1",), webhook_schedule=(0.0,))


def run(*args):
    return CliRunner().invoke(deliveries, list(args), catch_exceptions=False)


def test_list_failed_and_redeliver(env):
    with EventReceiver() as receiver:
        receiver.answers["/h"] = [500, 500]
        now = utcnow()
        with open_session(env) as s:
            job = Job(operation="lyrics", params={"prompt": "x"}, status="succeeded", created_at=now, updated_at=now,
                      finished_at=now, callback_url=receiver.url("/h"))
            s.add(job)
            s.commit()
        emit_job_event(env, job.id)
        delivery_id = json.loads(run("--json").stdout)[0]["id"]
        assert [deliver(env, delivery_id).status for _ in range(2)] == ["pending", "failed"]

        failed = json.loads(run("--failed", "--json").stdout)
        assert [(d["id"], d["status"], d["attempts"], d["last_http_status"]) for d in failed] == [
            (delivery_id, "failed", 2, 500)]
        assert delivery_id in run("--failed").stdout

        again = run("redeliver", delivery_id)
        assert again.exit_code == 0 and "delivered" in again.stdout
        assert run("--failed", "--json").stdout.strip() == "[]"
        requests = receiver.at("/h")
        assert len(requests) == 3
        event = verified(webhook_secret_for(env, "local"), requests[-1])
        assert event["type"] == "job.succeeded" and event["data"]["id"] == job.id
    assert run("redeliver", "nope").exit_code == 2

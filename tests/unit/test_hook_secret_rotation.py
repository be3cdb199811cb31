"""One hook secret everywhere, and rotating it: required when the database or the broker is a server; with
HOOKLINE_HOOK_SECRET="new,old" the first signs and every one verifies (callback tokens, dashboard sessions), and
producers' events carry one Standard Webhooks signature per secret."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from standardwebhooks import Webhook

from shared.apikeys import webhook_secret_for, webhook_secrets_for
from shared.config import Settings, hook_secret, hook_secrets, load_settings, require_shared_secret
from shared.errors import ConfigError
from shared.jobs.hook_urls import hook_token
from shared.models import Delivery
from shared.outgoing.delivery import signed_request
from tests.unit.api_clients import api_client
from tests.unit.test_dashboard_login import PASSWORD, client_for, log_in

PG = "postgresql+psycopg://u@db.internal/hookline"
REDIS = "redis://redis.internal:6379/0"


@pytest.mark.parametrize(("env", "named"), [({"HOOKLINE_DATABASE_URL": PG}, "the database"),
                                            ({"HOOKLINE_BROKER_URL": REDIS}, "the broker"),
                                            ({"HOOKLINE_DATABASE_URL": PG, "HOOKLINE_BROKER_URL": REDIS},
                                             "are servers"),
                                            ({"HOOKLINE_BROKER_URL": REDIS, "HOOKLINE_HOOK_SECRET": " , "},
                                             "the broker")])
def test_servers_without_a_secret_are_refused_with_the_reason(env: dict[str, str], named: str, tmp_path) -> None:
    settings = load_settings({"HOOKLINE_VAR_DIR": str(tmp_path), **env})
    with pytest.raises(ConfigError, match="HOOKLINE_HOOK_SECRET") as caught:
        require_shared_secret(settings)
    assert named in str(caught.value) and "401" in str(caught.value)
    require_shared_secret(settings.with_overrides(hook_secret="s3cret"))  # set: fine
    require_shared_secret(load_settings({"HOOKLINE_VAR_DIR": str(tmp_path)}))  # embedded default: fine


@pytest.mark.parametrize("command", [["receiver"], ["worker"], ["beat"]])
def test_receiver_worker_and_beat_refuse_to_start(command: list[str], tmp_path) -> None:
    env = {"HOOKLINE_VAR_DIR": str(tmp_path), "HOOKLINE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
           "HOOKLINE_BROKER_URL": REDIS}
    from shared.cli.main import main

    result = CliRunner().invoke(main, command, env={**env, "HOOKLINE_HOOK_SECRET": ""})
    assert result.exit_code == 2, result.output
    assert "HOOKLINE_HOOK_SECRET: required because the broker (HOOKLINE_BROKER_URL) is a server" in result.output
    assert "Traceback" not in result.output


def test_celery_entry_module_refuses_in_one_line(tmp_path) -> None:
    env = {**os.environ, "HOOKLINE_VAR_DIR": str(tmp_path), "HOOKLINE_DATABASE_URL": PG}
    env.pop("HOOKLINE_HOOK_SECRET", None)
    done = subprocess.run([sys.executable, "-c", "import worker.app"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("hookline: HOOKLINE_HOOK_SECRET: required because the database")


def test_first_secret_signs_and_every_secret_verifies(settings: Settings) -> None:
    rotated = settings.with_overrides(hook_secret="new-secret, old-secret")
    assert hook_secrets(rotated) == (b"new-secret", b"old-secret") and hook_secret(rotated) == b"new-secret"
    client = api_client(rotated)
    job_id = client.post("/v1/jobs", json={"operation": "lyrics", "params": {"prompt": "x"}}).get_json()["id"]
    body = {"code": "success", "data": {"task_id": "t-unknown", "status": "IN_PROGRESS"}}
    for secret, expected in ((b"old-secret", 200), (b"new-secret", 200), (b"retired", 401)):
        answer = client.post(f"/hooks/cometapi/{job_id}/1/{hook_token(secret, job_id, 1)}", json=body)
        assert (answer.status_code == 401) == (expected == 401), (secret, answer.status_code, answer.text)


def test_dashboard_sessions_survive_a_rotation_and_end_when_the_old_secret_goes(settings: Settings) -> None:
    old = settings.with_overrides(hook_secret="old-secret")
    web = client_for(old)
    assert log_in(web, PASSWORD) == 302
    cookie = web.get_cookie("session")
    assert cookie is not None
    for secrets, status in (("new-secret,old-secret", 200), ("new-secret", 302)):
        other = client_for(settings.with_overrides(hook_secret=secrets))
        other.set_cookie("session", cookie.value)
        assert other.get("/ui/jobs").status_code == status, secrets


def test_events_carry_one_signature_per_secret_during_a_rotation(settings: Settings) -> None:
    rotated = settings.with_overrides(hook_secret="new-secret,old-secret")
    old_whsec = webhook_secret_for(settings.with_overrides(hook_secret="old-secret"), "local")
    new_whsec = webhook_secret_for(settings.with_overrides(hook_secret="new-secret"), "local")
    assert webhook_secrets_for(rotated, "local") == [new_whsec, old_whsec]
    delivery = Delivery(msg_id="msg_1", api_key_id=None, payload={"type": "job.succeeded", "data": {"id": "j"}})
    now = datetime.now(UTC)
    body, headers = signed_request(rotated, delivery, now)
    assert headers["webhook-signature"].count("v1,") == 2 and " " in headers["webhook-signature"]
    for whsec in (old_whsec, new_whsec):  # a producer on either secret verifies the event
        assert Webhook(whsec).verify(body, headers) == {"type": "job.succeeded", "data": {"id": "j"}}
    with pytest.raises(Exception, match="signature"):
        Webhook(webhook_secret_for(settings.with_overrides(hook_secret="retired"), "local")).verify(body, headers)

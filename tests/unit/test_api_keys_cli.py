"""`hookline apikey …`: keys created for the API, shown once, usable at once; webhook secrets to verify with."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from shared.apikeys import webhook_secret_for
from shared.cli.producer import apikey
from tests.unit.api_clients import api_client, bearer


@pytest.fixture
def run(settings, base_env, monkeypatch):
    for name, value in base_env.items():
        monkeypatch.setenv(name, value)
    return lambda *args: CliRunner().invoke(apikey, list(args), catch_exceptions=False)


def test_create_prints_id_key_and_secret_and_the_key_works(run, settings):
    result = run("create", "--name", "acme", "--budget", "5", "--json")
    assert result.exit_code == 0
    created = json.loads(result.stdout)
    assert set(created) == {"id", "key", "webhook_secret"}
    assert created["key"].startswith("hk_") and created["webhook_secret"].startswith("whsec_")
    assert created["webhook_secret"] == webhook_secret_for(settings, created["id"])
    client = api_client(settings)
    assert client.get("/v1/jobs", headers=bearer(created["key"])).status_code == 200
    listed = json.loads(run("list", "--json").stdout)
    assert listed[0]["id"] == created["id"] and listed[0]["budget_usd_per_day"] == 5.0
    assert created["key"] not in run("list").stdout

    assert run("disable", created["id"]).exit_code == 0
    assert client.get("/v1/jobs", headers=bearer(created["key"])).status_code == 401


def test_webhook_secrets(run, settings):
    created = json.loads(run("create", "--name", "acme", "--json").stdout)
    assert run("webhook-secret", created["id"]).stdout.strip() == created["webhook_secret"]
    assert run("webhook-secret", "--local").stdout.strip() == webhook_secret_for(settings, "local")
    assert run("webhook-secret").exit_code == 2
    assert run("webhook-secret", "nope").exit_code == 2
    assert run("create", "--name", "x", "--budget", "-1").exit_code == 2

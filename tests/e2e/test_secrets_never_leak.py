"""A full job with a real-looking API key and hook secret: no log line, DB text column or CLI output holds them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import requests
from sqlalchemy import JSON, String, Text, select

from shared.db import get_engine
from shared.jobs.hook_urls import hook_token
from shared.models import Base
from tests.e2e.driver import create_job, wait_job

API_KEY = "sk-" + "T3stKeyValue0123456789abcdefXYZ"


def all_text_in_db(settings) -> str:
    chunks = []
    with get_engine(settings).connect() as conn:
        for table in Base.metadata.sorted_tables:
            cols = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
            if cols:
                for row in conn.execute(select(*cols)):
                    chunks.extend(json.dumps(v) if not isinstance(v, str) else v for v in row if v is not None)
    return "\n".join(chunks)


def test_no_secret_in_logs_db_or_cli(make_stack):
    stack, settings = make_stack(env={"COMETAPI_KEY": API_KEY, "SANDBOX_API_KEY": API_KEY})
    music = create_job(stack, "music", {"prompt": "[Verse]\nx", "tags": "a", "title": "S", "mv": "chirp-v4"})
    lyrics = create_job(stack, "lyrics", {"prompt": "secrets"})
    jobs = [wait_job(stack, music), wait_job(stack, lyrics)]
    assert [j["status"] for j in jobs] == ["succeeded", "succeeded"]  # the sandbox checked the Bearer key
    # Rejections are logged too: a forged token and a wrong key must not echo secrets either.
    requests.post(f"{stack.receiver_url}/hooks/cometapi/{music}/1/forged-token-value", json={}, timeout=5)
    bad = requests.post(f"{stack.sandbox_url}/suno/submit/lyrics", json={"prompt": "x"},
                        headers={"Authorization": "Bearer sk-wrong"}, timeout=5)
    assert bad.status_code == 401

    secret = settings.hook_secret
    tokens = [hook_token(secret.encode(), j["id"], 1) for j in jobs]
    env = {**os.environ, **stack.env}
    cli = "".join(
        subprocess.run([sys.executable, "-m", "shared.cli", *args], env=env, capture_output=True, text=True,
                       timeout=60).stdout
        for args in (["status", music, "--json"], ["status", lyrics], ["costs", "--json"], ["db", "current"])
    )
    assert music in cli
    logs = "\n".join(p.read_text(errors="replace") for p in stack.log_dir.glob("*.log"))
    assert "submitted job" in logs  # the logs are really there
    haystacks = {"logs": logs, "db": all_text_in_db(settings), "cli": cli}
    for where, text in haystacks.items():
        for needle in (API_KEY, secret, *tokens, "forged-token-value"):
            assert needle not in text, f"{where} leaks {needle[:6]}…"

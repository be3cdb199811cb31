"""One record per operation: an operation added to the registry in one place is accepted by the API, the pipeline
spec and the worker's submit path, with no other table to edit.

The fake operation, ``lyrics_copy``, is the lyrics record under another name: it uses the real lyrics endpoint, so
the sandbox serves it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select
from werkzeug.test import TestResponse

from shared.admission import admit
from shared.cometapi import OPERATIONS, Operation, operation_named, register, unregister
from shared.config import Settings
from shared.db import open_session
from shared.errors import ValidationError
from shared.models import Attempt, Job
from shared.pipelines import SpecInvalid, parse_spec
from shared.producer import add_job, validate_job
from shared.sandbox import BackgroundSandbox, start_background_sandbox
from tests.unit.api_clients import api_client
from worker.submitting import submit_claimed

FAKE = "lyrics_copy"
LYRICS_PARAMS = {"prompt": "a lighthouse keeper"}
# The fake's lyrics feed a song: the step kinds' takes/yields come from its record as well.
SPEC = {"steps": {
    "words": {"op": FAKE, "params": LYRICS_PARAMS},
    "song": {"op": "generate", "from": "words", "params": {"tags": "pop", "mv": "chirp-v4"}},
}}


def lyrics_copy() -> Operation:
    """The lyrics record under another name; its one step kind is renamed with it."""
    lyrics = operation_named("lyrics")
    steps = tuple(dataclasses.replace(step, name=FAKE) for step in lyrics.steps)
    return dataclasses.replace(lyrics, name=FAKE, steps=steps)


@pytest.fixture
def fake_operation() -> Iterator[Operation]:
    operation = register(lyrics_copy())
    yield operation
    unregister(FAKE)


def test_unregistered_the_fake_is_refused_everywhere(settings: Settings) -> None:
    """The control: without the registration, the same requests fail (so the tests below can fail)."""
    assert FAKE not in OPERATIONS
    assert api_client(settings).post("/v1/jobs", json={"operation": FAKE, "params": LYRICS_PARAMS}).status_code == 400
    with pytest.raises(SpecInvalid):
        parse_spec(SPEC)


def test_registering_changes_the_registry_only_until_removed() -> None:
    operation = register(lyrics_copy())
    try:
        assert FAKE in OPERATIONS and operation_named(FAKE) is operation
        with pytest.raises(ValueError, match="already registered"):
            register(lyrics_copy())
    finally:
        unregister(FAKE)
    assert FAKE not in OPERATIONS


def body_of(response: TestResponse) -> dict[str, Any]:
    body = response.json
    assert isinstance(body, dict), response.data
    return body


def test_the_api_accepts_the_fake(settings: Settings, fake_operation: Operation) -> None:
    client = api_client(settings)
    created = client.post("/v1/jobs", json={"operation": FAKE, "params": LYRICS_PARAMS})
    assert created.status_code == 202, created.json
    job_id = body_of(created)["id"]
    job = body_of(client.get(f"/v1/jobs/{job_id}"))
    assert (job["operation"], job["status"]) == (FAKE, "queued")
    listed = client.get(f"/v1/jobs?operation={FAKE}")
    assert listed.status_code == 200 and [j["id"] for j in body_of(listed)["data"]] == [job_id]
    # Its request rules came along: a missing prompt is refused, naming the field.
    refused = client.post("/v1/jobs", json={"operation": FAKE, "params": {}})
    assert refused.status_code == 400 and body_of(refused)["error"]["field"] == "params.prompt"


def test_a_pipeline_spec_with_the_fake_validates(fake_operation: Operation) -> None:
    spec = parse_spec(SPEC)
    assert spec.order == ("words", "song")
    words = spec.steps["words"]
    assert (words.operation, words.kind.name, words.kind.yields) == (FAKE, FAKE, "lyrics")
    assert spec.steps["song"].source == "words"
    with pytest.raises(SpecInvalid) as caught:
        parse_spec({"steps": {"words": {"op": FAKE, "params": {"prompt": "x", "colour": "red"}}}})
    assert [e.field for e in caught.value.errors] == ["params.colour"]
    unregister(FAKE)  # the step kinds follow the registry both ways
    with pytest.raises(SpecInvalid) as caught:
        parse_spec(SPEC)
    assert [(e.where, e.field) for e in caught.value.errors][0] == ("step words", "op")


@pytest.fixture
def sandbox() -> Iterator[BackgroundSandbox]:
    box = start_background_sandbox({"STEP_SECONDS": 0.2, "CLIP_SECONDS": 3})
    yield box
    box.stop()


def test_the_worker_submits_the_fake(settings: Settings, sandbox: BackgroundSandbox, fake_operation: Operation) -> None:
    cfg = settings.with_overrides(base_url=sandbox.url, read_timeout=2.0)
    with open_session(cfg) as session:
        added = add_job(session, cfg, FAKE, LYRICS_PARAMS)
        session.commit()
        job_id = added.id
    assert job_id in admit(cfg).admitted
    result = submit_claimed(cfg, job_id)
    assert result.outcome == "accepted", result
    with open_session(cfg) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == "submitted" and job.upstream_task_id == result.detail
        (attempt,) = session.scalars(select(Attempt).where(Attempt.job_id == job_id))
        assert (attempt.operation, attempt.endpoint, attempt.outcome, attempt.cost_usd) == (FAKE, "lyrics", "accepted",
                                                                                           0.02)
    log = requests.get(f"{sandbox.url}/_sandbox/requests", timeout=5).json()
    assert [r["path"] for r in log if r["path"].startswith("/suno/submit")] == ["/suno/submit/lyrics"]


def test_the_producer_refuses_the_fake_once_removed(fake_operation: Operation) -> None:
    assert validate_job(FAKE, LYRICS_PARAMS) == LYRICS_PARAMS
    unregister(FAKE)
    with pytest.raises(ValidationError) as caught:
        validate_job(FAKE, LYRICS_PARAMS)
    assert caught.value.field == "operation"

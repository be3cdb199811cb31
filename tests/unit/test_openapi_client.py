"""A client-ready OpenAPI document: it validates (openapi-spec-validator), every operation has a unique
operationId, every operation's params are a schema generated from the registry (oneOf by operation), every
outgoing event is in `webhooks` with its Standard Webhooks headers, and a client generated from the document by
openapi-python-client submits a job to a live receiver (real HTTP, real SQLite) and reads it back."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from openapi_spec_validator import validate
from werkzeug.serving import make_server

from shared.cli.stack import free_port
from shared.cometapi import REGISTRY
from shared.config import Settings
from shared.outgoing import EVENT_TYPES
from shared.producer import get_job
from webhook.api.openapi import openapi_document
from webhook.app import create_app


def test_the_document_validates_and_names_every_operation() -> None:
    document = openapi_document()
    validate(document)  # raises on any error, OpenAPI 3.1 rules and JSON Schema 2020-12
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    ids += [op["operationId"] for item in document["webhooks"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) and all(ids)
    assert "downloadArtifact" in ids


def test_webhooks_describe_every_event_with_its_headers() -> None:
    document = openapi_document()
    assert set(document["webhooks"]) == set(EVENT_TYPES)
    for event, item in document["webhooks"].items():
        headers = {p["name"] for p in item["post"]["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}, event
        body = item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert document["components"]["schemas"][body]["properties"]["type"] == {"const": event}


def validator(name: str) -> Any:
    document = openapi_document()
    return jsonschema_rs.validator_for({"$ref": f"#/components/schemas/{name}",
                                        "components": document["components"]})


@pytest.mark.parametrize("body, valid", [
    ({"operation": "lyrics", "params": {"prompt": "tides"}}, True),
    ({"operation": "lyrics", "params": {"prompt": "tides", "mv": "x"}}, False),  # not a lyrics field
    ({"operation": "lyrics", "params": {}}, False),
    ({"operation": "music", "params": {"gpt_description_prompt": "a song about tides"}}, True),
    ({"operation": "music", "params": {"prompt": "[Verse] hi", "tags": "pop", "title": "Hi"}}, True),
    ({"operation": "music", "params": {"bogus": 1}}, False),
    ({"operation": "wav", "params": {"clip_id": "c1"}}, True),
    ({"operation": "wav", "params": {"clip_id": 5}}, False),
    ({"operation": "nope", "params": {}}, False),
])
def test_job_request_is_one_of_the_registry_operations(body: dict[str, Any], valid: bool) -> None:
    document = openapi_document()
    variants = document["components"]["schemas"]["JobRequest"]["oneOf"]
    assert len(variants) == len(REGISTRY)
    assert set(document["components"]["schemas"]["JobRequest"]["discriminator"]["mapping"]) == set(REGISTRY)
    assert validator("JobRequest").is_valid(body) is valid


@pytest.fixture
def live_receiver(settings: Settings) -> Iterator[str]:
    """The receiver's WSGI app served over real HTTP on a free port, in a thread of this process."""
    port = free_port()
    server = make_server("127.0.0.1", port, create_app({"HOOKLINE_SETTINGS": settings}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=10)


def test_a_generated_client_submits_a_job_to_a_live_receiver(live_receiver: str, settings: Settings,
                                                             tmp_path: Path) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(openapi_document()))
    generator = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run([str(generator), "generate", "--path", str(spec), "--output-path",
                           str(tmp_path / "client"), "--meta", "none"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout, done.stdout  # every schema and operation understood
    sys.path.insert(0, str(tmp_path))
    try:
        package = importlib.import_module("client")
        create_job = importlib.import_module("client.api.jobs.create_job")
        get_job_api = importlib.import_module("client.api.jobs.get_job")
        models = importlib.import_module("client.models")
        api = package.Client(base_url=live_receiver, raise_on_unexpected_status=True)
        body = models.JobRequestLyrics(operation="lyrics", params=models.ParamsLyrics(prompt="a song about tides"))
        created = create_job.sync(client=api, body=body)
        job_id = created.id
        read = get_job_api.sync(client=api, job_id=job_id)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "client" or m.startswith("client.")]:
            del sys.modules[name]
    assert read.id == job_id and read.operation == "lyrics"
    stored = get_job(job_id, settings=settings)
    assert stored["operation"] == "lyrics" and stored["status"] == "queued"

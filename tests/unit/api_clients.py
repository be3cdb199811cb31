"""Helpers for the /v1 tests: an app on the test's real SQLite database, API keys, and response-schema checks
against the served OpenAPI document."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
from flask.testing import FlaskClient

from shared.apikeys import NewKey, create_api_key
from shared.config import Settings
from shared.db import open_session
from webhook.api.openapi import openapi_document
from webhook.app import create_app

ADMIN_TOKEN = "admin-token-for-tests"


def api_client(settings: Settings, *, admin_token: str | None = None) -> FlaskClient:
    settings = settings.with_overrides(api_token=admin_token, callback_allowlist=("127.0.0.1",))
    return create_app({"HOOKLINE_SETTINGS": settings, "TESTING": True}).test_client()


def new_key(settings: Settings, name: str = "acme") -> NewKey:
    with open_session(settings) as session:
        key = create_api_key(session, settings, name)
        session.commit()
        return key


def bearer(key: NewKey | str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key if isinstance(key, str) else key.key}"}


def assert_matches(schema_name: str, body: Any) -> None:
    """``body`` is valid against #/components/schemas/<schema_name> of the served OpenAPI document."""
    document = openapi_document()
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    errors = [str(e) for e in jsonschema_rs.validator_for(schema).iter_errors(body)]
    assert not errors, (schema_name, errors, body)


LYRICS = {"operation": "lyrics", "params": {"prompt": "a lighthouse keeper"}}

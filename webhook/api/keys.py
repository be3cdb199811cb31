"""The admin API for producer keys under /v1/keys: list them, and set a key's admission limits (max in flight,
rate) and default priority. Only the admin token (HOOKLINE_API_TOKEN), or anyone while the API is open, may.
Keys are created with ``hookline apikey create`` (a key is shown once; an HTTP answer would be kept by the
Idempotency-Key replay store, and a key never reaches the database)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from shared.admission import admit_quietly
from shared.apikeys import UNSET, key_json, parse_limits, set_limits
from shared.models import ApiKey
from webhook.api.auth import ApiError, principal
from webhook.api.bodies import json_object
from webhook.api.listing import check_query
from webhook.context import db_session, settings

keys = Blueprint("keys", __name__, url_prefix="/keys")
LIMIT_FIELDS = ("max_in_flight", "rate", "default_priority", "budget_usd_per_day")


def _admin_only() -> None:
    if principal().kind == "key":
        raise ApiError(403, "forbidden", "only the admin token (HOOKLINE_API_TOKEN) manages API keys")


def _limits(body: dict[str, Any]) -> dict[str, Any]:
    return parse_limits(*(body[name] if name in body else UNSET for name in LIMIT_FIELDS))


@keys.get("")
def list_keys() -> ResponseReturnValue:
    check_query(())
    _admin_only()
    with db_session() as session:
        return jsonify({"data": [key_json(k) for k in session.scalars(select(ApiKey).order_by(ApiKey.created_at))]})


@keys.patch("/<key_id>")
def update_key(key_id: str) -> ResponseReturnValue:
    check_query(())
    _admin_only()
    limits = _limits(json_object(LIMIT_FIELDS))
    with db_session() as session:
        key = set_limits(session, key_id, limits)
        if key is None:
            raise ApiError(404, "not_found", f"no key {key_id!r}")
        session.commit()
        shown = key_json(key)
    admit_quietly(settings())  # a raised budget or limit lets waiting jobs go now, not at the next sweep
    return jsonify(shown)

"""Reading a request body under /v1: one JSON object with no unknown fields, and the producer's callback_url."""

from __future__ import annotations

from typing import Any

from flask import request

from shared.nesting import MAX_DEPTH, too_deep
from shared.net.callback_urls import check_callback_url
from webhook.api.auth import ApiError
from webhook.context import settings


def json_object(allowed: tuple[str, ...], *, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object, with no field outside ``allowed`` (400 naming the first stranger)."""
    if optional and not request.get_data(cache=True).strip():
        return {}
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # json.loads gives up on deep nesting with this, not a ValueError
        raise ApiError(400, "invalid_json", f"body nests deeper than {MAX_DEPTH} levels", "body") from None
    if too_deep(body):
        raise ApiError(400, "invalid_json", f"body nests deeper than {MAX_DEPTH} levels", "body")
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "body must be a JSON object (Content-Type: application/json)")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, "invalid", f"unknown field {unknown[0]!r}", unknown[0])
    return body


def callback_url_of(body: dict[str, Any]) -> str | None:
    value = body.get("callback_url")
    return None if value is None else check_callback_url(settings(), value)

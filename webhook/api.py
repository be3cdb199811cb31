"""The producer HTTP API: POST /v1/jobs, GET /v1/jobs/<id>. Errors are {"error": {code, message, field?}}."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, jsonify, request

from shared.errors import NotFound, ValidationError
from shared.producer import get_job, submit_job
from webhook.context import settings

api = Blueprint("api", __name__, url_prefix="/v1")


def error(status: int, code: str, message: str, field: str | None = None):  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    return jsonify({"error": body}), status


@api.before_request
def require_token():  # type: ignore[no-untyped-def]
    expected = settings().api_token
    if not expected:
        return None
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        return error(401, "unauthorized", "missing or wrong Authorization: Bearer token")
    return None


@api.post("/jobs")
def create_job():  # type: ignore[no-untyped-def]
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, "invalid_json", "body must be a JSON object")
    unknown = sorted(set(body) - {"operation", "params"})
    if unknown:
        return error(400, "invalid", f"unknown field {unknown[0]!r}", unknown[0])
    try:
        job_id = submit_job(body.get("operation"), body.get("params", {}), settings=settings())
    except ValidationError as exc:
        return error(400, "invalid", exc.message, exc.field)
    return jsonify({"id": job_id}), 202


@api.get("/jobs/<job_id>")
def read_job(job_id: str):  # type: ignore[no-untyped-def]
    try:
        return jsonify(get_job(job_id, settings=settings()))
    except NotFound as exc:
        return error(404, "not_found", str(exc))

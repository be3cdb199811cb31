"""The producer HTTP API under /v1, assembled: jobs, pipelines, bulk and costs each in their own module, and the
OpenAPI document at /openapi.json.

Errors are ``{"error": {"code", "message", "field"?}}`` with a 4xx status; bad input is never a 500.
Callers and what they see: ``auth``. Idempotency-Key: ``idempotency``.
"""

from __future__ import annotations

from flask import Blueprint

from webhook.api.auth import require_principal
from webhook.api.bulk import bulk, costs
from webhook.api.errors import install_error_handlers
from webhook.api.jobs import jobs
from webhook.api.keys import keys
from webhook.api.openapi import register_openapi
from webhook.api.pipelines import pipelines

__all__ = ["api"]

api = Blueprint("api", __name__, url_prefix="/v1")


@api.before_request
def authenticate_caller() -> None:
    require_principal()


install_error_handlers(api)
for part in (jobs, pipelines, bulk, costs, keys):
    api.register_blueprint(part)
register_openapi(api)

"""How /v1 answers errors: every exception becomes ``{"error": {"code", "message", "field"?}}``, never a page."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from shared.errors import NotFound, ValidationError
from webhook.api.auth import ApiError, error_body, error_response

log = logging.getLogger("hookline.api")


def validation_error(exc: ValidationError) -> ResponseReturnValue:
    return jsonify(error_body("invalid", exc.message, exc.field)), 400


def not_found(exc: NotFound) -> ResponseReturnValue:
    return jsonify(error_body("not_found", str(exc))), 404


def http_error(exc: HTTPException) -> ResponseReturnValue:
    code = (exc.name or "error").lower().replace(" ", "_")
    return jsonify(error_body(code, exc.description or exc.name or "error")), exc.code or 400


def unexpected_error(exc: Exception) -> ResponseReturnValue:
    log.exception("unexpected error in %s %s", request.method, request.path)
    return jsonify(error_body("internal", "internal error; it was logged")), 500


def routing_error(exc: HTTPException) -> ResponseReturnValue:
    """No route (404) or method (405) under /v1 or /hooks: the JSON error shape there, the dashboard's styled page
    elsewhere (Flask's plain one without the dashboard)."""
    if request.path.startswith(("/v1/", "/hooks/")) or request.path == "/v1":
        return http_error(exc)
    page = current_app.extensions.get("hookline.html_error_page")  # the dashboard's styled page, when registered
    return page(exc) if page is not None else exc


def _json_routing_errors(state: BlueprintSetupState) -> None:
    for code in (404, 405):
        state.app.register_error_handler(code, routing_error)


def install_error_handlers(blueprint: Blueprint) -> None:
    blueprint.register_error_handler(ApiError, error_response)
    blueprint.register_error_handler(ValidationError, validation_error)
    blueprint.register_error_handler(NotFound, not_found)
    blueprint.register_error_handler(HTTPException, http_error)
    blueprint.register_error_handler(Exception, unexpected_error)
    blueprint.record_once(_json_routing_errors)

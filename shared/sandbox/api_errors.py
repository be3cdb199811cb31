"""The upstream's error envelope, and the one exception the sandbox's routes raise to answer with it."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify


class SandboxApiError(Exception):
    """Answer the current request with ``{"code":"error","message":…,"data":null}`` and this HTTP status."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.message = message
        self.headers = headers or {}
        super().__init__(f"HTTP {status}: {message}")


def field_error(field: str, problem: str, *, status: int = 400) -> SandboxApiError:
    """A 400 whose message starts with the offending field's name, the way clients expect to read it."""
    return SandboxApiError(status, f"{field}: {problem}")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"code": "error", "message": message, "data": None})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def success_response(data: Any) -> Response:
    return jsonify({"code": "success", "message": "", "data": data})

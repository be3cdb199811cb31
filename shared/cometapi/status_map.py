"""The one place an upstream HTTP status (and error body) becomes an exception.

Modelled on stripe's ``specific_v1_api_error``: callers never test status codes themselves,
they ``raise exception_for_status(...)`` and catch by class (``exc.retryable`` says what to do).
"""

from __future__ import annotations

import json
from typing import Any

from shared.errors import AuthFailed, BadRequest, ModelUnavailable, RateLimited, UpstreamError, UpstreamUnavailable

BODY_EXCERPT_CHARS = 200  # of a body quoted as an excerpt; the upstream's own message is kept whole
MESSAGE_MAX_CHARS = 4000  # only a bound against a runaway body: error texts are not cut short

STATUS_EXCEPTIONS: dict[int, type[UpstreamError]] = {
    400: BadRequest,
    401: AuthFailed,
    403: AuthFailed,
    404: BadRequest,
    413: BadRequest,
    429: RateLimited,
    500: UpstreamUnavailable,
    502: UpstreamUnavailable,
    503: ModelUnavailable,  # "no available channel": not retried (the docs retry 429, 500, 504 and 524)
    504: UpstreamUnavailable,
    524: UpstreamUnavailable,
}

# What the API docs' error table says each code means; used when the body says nothing.
STATUS_MEANINGS: dict[int, str] = {
    400: "bad request",
    401: "invalid API key",
    403: "API key disabled",
    404: "not found (check the base URL)",
    413: "request too large (shorten the prompt)",
    429: "rate limited",
    500: "upstream server error",
    502: "bad gateway",
    503: "no available channel",
    504: "gateway timeout",
    524: "upstream connection timeout",
}


def exception_for_status(
    status: int,
    body: bytes | str | dict[str, Any] | None,
    *,
    operation: str | None = None,
    retry_after: float | None = None,
) -> UpstreamError:
    """The exception for an upstream answer that is an error.

    400/404/413 -> BadRequest, 401/403 -> AuthFailed, 429 -> RateLimited,
    500/502/504/524 -> UpstreamUnavailable (retried), 503 -> ModelUnavailable (not retried: the model is not
    offered to the account's group; the message carries a hint), any other non-2xx -> plain UpstreamError.
    A 2xx whose body is ``{"code": "error", ...}`` is a BadRequest: the
    upstream refused the request but said so in the body.
    The message is the body's ``message`` when there is one, else an excerpt of the body.
    """
    text, parsed = _decode(body)
    excerpt = text[:BODY_EXCERPT_CHARS] if text else None
    if 200 <= status < 300:
        cls: type[UpstreamError] = BadRequest
    else:
        cls = STATUS_EXCEPTIONS.get(status, UpstreamError)
    message = _upstream_message(parsed) or excerpt or STATUS_MEANINGS.get(status, "no error message")
    if cls is ModelUnavailable:
        message = f"{message} ({ModelUnavailable.HINT})"
    return cls(
        message,
        status=status,
        body_excerpt=excerpt,
        operation=operation,
        retry_after=retry_after,
    )


def _decode(body: bytes | str | dict[str, Any] | None) -> tuple[str, Any]:
    """(text of the body, the parsed JSON or None)."""
    if body is None:
        return "", None
    if isinstance(body, dict):
        return json.dumps(body, ensure_ascii=False, default=str), body
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body)
    text = text.strip()
    try:
        return text, json.loads(text)
    except ValueError:
        return text, None


def _upstream_message(parsed: Any) -> str | None:
    """The ``message`` of ``{"code": "error", "message": ..., "data": null}``, or of ``{"error": {"message": ...}}``."""
    if not isinstance(parsed, dict):
        return None
    message = parsed.get("message")
    if message is None and isinstance(parsed.get("error"), dict):
        message = parsed["error"].get("message")  # the OpenAI-style shape CometAPI uses elsewhere
    if isinstance(message, str) and message.strip():
        return message.strip()[:MESSAGE_MAX_CHARS]
    return None

"""exception_for_status: the one status -> exception mapping, and how it reads error bodies."""

from __future__ import annotations

import pytest

from shared.cometapi import exception_for_status
from shared.errors import AuthFailed, BadRequest, ModelUnavailable, RateLimited, UpstreamError, UpstreamUnavailable

MAPPING = [
    (400, BadRequest),
    (401, AuthFailed),
    (403, AuthFailed),
    (404, BadRequest),
    (413, BadRequest),
    (429, RateLimited),
    (500, UpstreamUnavailable),
    (502, UpstreamUnavailable),
    (503, ModelUnavailable),
    (504, UpstreamUnavailable),
    (524, UpstreamUnavailable),
]


@pytest.mark.parametrize(("status", "error_class"), MAPPING)
def test_documented_statuses(status: int, error_class: type[UpstreamError]) -> None:
    error = exception_for_status(status, {"code": "error", "message": "nope", "data": None}, operation="music")
    assert type(error) is error_class
    hint = f" ({ModelUnavailable.HINT})" if status == 503 else ""
    assert (error.status, error.message, error.operation) == (status, "nope" + hint, "music")
    assert error.retryable is (status in (429, 500, 502, 504, 524))  # 503: the model is not in the account's group


def test_an_upstream_message_is_never_cut_short() -> None:
    message = "model chirp-v5-5 is not available for group default; " * 10
    assert exception_for_status(400, {"code": "error", "message": message}).message == message.strip()


@pytest.mark.parametrize("status", [301, 405, 409, 418, 501, 520])
def test_other_statuses_are_plain_non_retryable(status: int) -> None:
    error = exception_for_status(status, None)
    assert type(error) is UpstreamError and not error.retryable


@pytest.mark.parametrize("body", [
    b'{"code":"error","message":"Invalid API key","data":null}',
    '{"code":"error","message":"Invalid API key","data":null}',
    {"code": "error", "message": "Invalid API key", "data": None},
    {"error": {"message": "Invalid API key", "type": "invalid_request_error"}},
])
def test_message_comes_from_the_body_in_every_form(body: bytes | str | dict[str, object]) -> None:
    error = exception_for_status(401, body)
    assert error.message == "Invalid API key"
    assert "HTTP 401: Invalid API key" in str(error)


def test_without_a_message_the_excerpt_is_used_and_capped() -> None:
    error = exception_for_status(500, b"x" * 5000)
    assert error.message == "x" * 200 and error.body_excerpt == "x" * 200
    assert exception_for_status(500, {"code": "error", "message": "", "data": None}).message.startswith('{"code"')


def test_an_empty_body_falls_back_to_the_documented_meaning() -> None:
    assert exception_for_status(503, b"").message.startswith("no available channel (the model is not available")
    assert exception_for_status(413, None).message.startswith("request too large")


def test_undecodable_bytes_do_not_raise() -> None:
    error = exception_for_status(502, b"\xff\xfe\x00bad")
    assert isinstance(error, UpstreamUnavailable) and error.body_excerpt


def test_a_2xx_error_envelope_is_a_bad_request() -> None:
    error = exception_for_status(200, {"code": "error", "message": "prompt too long", "data": None})
    assert type(error) is BadRequest and error.status == 200 and error.message == "prompt too long"


def test_retry_after_is_carried() -> None:
    assert exception_for_status(429, None, retry_after=12.5).retry_after == 12.5

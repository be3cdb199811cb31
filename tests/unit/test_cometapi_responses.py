"""Reading answers (parse_task, submitted_id) and telling sent from not-sent transport errors."""

from __future__ import annotations

from http.client import RemoteDisconnected
from typing import Any

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError, ProtocolError

from shared.cometapi import parse_task, request_was_sent, submitted_id

TASK = {"task_id": "t-1", "action": "MUSIC", "status": "COMPLETE", "progress": "100%", "data": [{"id": "c1"}]}


def test_parse_task_accepts_a_bare_task_and_the_envelope() -> None:
    assert parse_task(TASK) is TASK
    assert parse_task({"code": "success", "message": "", "data": TASK}) is TASK


@pytest.mark.parametrize("body", [
    None,
    "t-1",
    [],
    {},
    {"code": "success", "data": "t-1"},
    {"code": "success", "data": {"status": "COMPLETE"}},
    {"code": "error", "message": "nope", "data": TASK},
    {"task_id": ""},
])
def test_parse_task_returns_none_for_anything_else(body: Any) -> None:
    assert parse_task(body) is None


def test_submitted_id_reads_task_and_persona_answers() -> None:
    assert submitted_id("music", {"code": "success", "message": "", "data": "t-9"}) == "t-9"
    assert submitted_id("persona", {"id": "p-1", "name": "x"}) == "p-1"
    assert submitted_id("music", {"code": "success", "data": ""}) is None
    assert submitted_id("music", {"id": "x", "clips": []}) is None
    assert submitted_id("persona", {"code": "success", "data": "t"}) is None


def _connection_error(cause: BaseException) -> requests.ConnectionError:
    return requests.ConnectionError(MaxRetryError(None, "/suno/submit/music", cause))  # type: ignore[arg-type]


@pytest.mark.parametrize(("exc", "sent"), [
    (requests.ConnectTimeout("connect timed out"), False),
    (_connection_error(NewConnectionError(None, "refused")), False),  # type: ignore[arg-type]
    (_connection_error(NameResolutionError("api.example", None, OSError("no such host"))), False),  # type: ignore[arg-type]
    (requests.exceptions.SSLError("handshake failed"), False),
    (requests.ReadTimeout("read timed out"), True),
    (requests.exceptions.ChunkedEncodingError("truncated"), True),
    (requests.ConnectionError(ProtocolError("Connection aborted.", RemoteDisconnected("closed"))), True),
    (requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))), True),
    (requests.ConnectionError("something unexplained"), True),  # unsure: say sent, never pay twice
])
def test_request_was_sent(exc: BaseException, sent: bool) -> None:
    assert request_was_sent(exc) is sent

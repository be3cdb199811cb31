"""CometClient against a real HTTP server on 127.0.0.1 (http.server in a thread): no mocks."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.cli.stack import free_port
from shared.cometapi import CometClient, operation_named
from shared.cometapi.answers import DONE, FAILED, RUNNING
from shared.cometapi.export_paths import export_task_id, forget_families, remembered_family
from shared.config import Settings
from shared.errors import (
    AmbiguousSubmit,
    AuthFailed,
    BadRequest,
    ModelUnavailable,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)

API_KEY = "sk-test-0123456789abcdefSECRET"


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=lambda: {"code": "success", "message": "", "data": "task-1"})
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang_up: bool = False  # read the request, then close the connection without answering


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _StubServer

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.path)
        self.server.received.append(
            Received(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
        )
        reply = self.server.routes.get((self.command, parts.path), Reply(404, {"code": "error", "message": "no route"}))
        time.sleep(reply.delay)
        if reply.hang_up:
            self.close_connection = True
            return
        payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (read-timeout tests)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _StubHandler)
        self.routes: dict[tuple[str, str], Reply] = {}
        self.received: list[Received] = []


class StubUpstream:
    """A stand-in for CometAPI: tests set the reply per (method, path) and read what arrived."""

    def __init__(self) -> None:
        self.server = _StubServer()
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, method: str, path: str, reply: Reply | None = None, **kw: Any) -> None:
        self.server.routes[(method, path)] = reply or Reply(**kw)

    @property
    def received(self) -> list[Received]:
        return self.server.received

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream() -> Iterator[StubUpstream]:
    stub = StubUpstream()
    yield stub
    stub.stop()


@pytest.fixture
def client(upstream: StubUpstream) -> Iterator[CometClient]:
    comet = CometClient(upstream.url, API_KEY, connect_timeout=1.0, read_timeout=2.0)
    yield comet
    comet.close()


def assert_no_key(exc: BaseException) -> None:
    for text in (str(exc), repr(exc), getattr(exc, "message", ""), getattr(exc, "body_excerpt", "") or ""):
        assert API_KEY not in text


# --- success path -------------------------------------------------------------------------


def test_submit_sends_bearer_and_json_and_returns_task_id(upstream: StubUpstream, client: CometClient) -> None:
    upstream.answer("POST", "/suno/submit/lyrics", body={"code": "success", "message": "", "data": "t-42"})
    payload = {"prompt": "[Verse]\ncat", "notify_hook": "https://hooks.example/cb?t=x"}
    assert client.submit("lyrics", payload) == "t-42"
    (seen,) = upstream.received
    assert seen.headers["Authorization"] == f"Bearer {API_KEY}"
    assert seen.json() == payload
    assert client.last_status == 200
    assert client.last_response is not None and client.last_response.endpoint == "lyrics"


def test_no_authorization_header_without_a_key(upstream: StubUpstream) -> None:
    task = {"task_id": "t-1", "status": "NOT_START"}
    upstream.answer("GET", "/suno/fetch/t-1", body={"code": "success", "data": task})
    CometClient(upstream.url).fetch("t-1")
    assert "Authorization" not in upstream.received[0].headers


def test_fetch_unwraps_the_envelope_and_quotes_the_path(upstream: StubUpstream, client: CometClient) -> None:
    task = {"task_id": "a/b c", "status": "IN_PROGRESS", "progress": "10%", "data": None}
    upstream.answer("GET", "/suno/fetch/a%2Fb%20c", body={"code": "success", "message": "", "data": task})
    assert client.fetch("a/b c") == task


def test_fetch_without_a_task_is_a_bad_request_naming_task_id(upstream: StubUpstream, client: CometClient) -> None:
    upstream.answer("GET", "/suno/fetch/nope", body={"code": "success", "message": "", "data": None})
    with pytest.raises(BadRequest) as caught:
        client.fetch("nope")
    assert caught.value.field == "task_id" and caught.value.task_id == "nope"


def test_fetch_many_posts_ids_and_action(upstream: StubUpstream, client: CometClient) -> None:
    tasks = [{"task_id": "a", "status": "COMPLETE"}, {"task_id": "b", "status": "FAILED"}]
    upstream.answer("POST", "/suno/fetch", body={"code": "success", "message": "", "data": tasks})
    assert client.fetch_many(["a", "b"], "LYRICS") == tasks
    assert upstream.received[0].json() == {"ids": ["a", "b"], "action": "LYRICS"}


def test_fetch_many_refuses_more_than_50_ids_before_sending(upstream: StubUpstream, client: CometClient) -> None:
    with pytest.raises(ValueError, match="50"):
        client.fetch_many([f"id-{n}" for n in range(51)], "MUSIC")
    with pytest.raises(ValueError, match="action"):
        client.fetch_many(["a"], "VIDEO")
    assert client.fetch_many([], "MUSIC") == []
    assert upstream.received == []


def test_persona_returns_the_persona_id_from_the_scraped_path(upstream: StubUpstream, client: CometClient) -> None:
    upstream.answer("POST", "/suno/persona/create", body={"id": "persona-7", "name": "P", "persona_clips": []})
    payload = {"root_clip_id": "c1", "name": "P", "description": "", "clips": ["c1"], "is_public": False}
    assert client.submit("persona", payload) == "persona-7"


def test_separate_routes_by_mode_and_drops_the_routing_key(upstream: StubUpstream, client: CometClient) -> None:
    upstream.answer("POST", "/suno/submit/audio/separation/single")
    assert client.submit("separate", {"mode": "single", "clip_id": "c1"}) == "task-1"
    assert upstream.received[0].json() == {"clip_id": "c1"}


def test_export_and_udio_query(upstream: StubUpstream, client: CometClient) -> None:
    upstream.answer("GET", "/suno/wav/clip-1", body={"code": "success", "data": "https://cdn.example/clip-1.wav"})
    upstream.answer("GET", "/udio/query", body={"songs": [{"id": "s1", "finished": False}]})
    assert client.export("wav", "clip-1")["data"].endswith(".wav")
    assert client.udio_query(["s1", "s2"]) == {"songs": [{"id": "s1", "finished": False}]}
    assert upstream.received[1].query == {"ids": ["s1,s2"]}
    with pytest.raises(ValueError):
        client.export("lyrics", "clip-1")
    with pytest.raises(ValueError):
        client.submit("wav", {"clip_id": "clip-1"})


# --- export path families and answer shapes (issue 14) -------------------------------------------------------


def test_auto_tries_the_seed_path_then_the_act_path_on_404_and_remembers(upstream: StubUpstream) -> None:
    forget_families()
    upstream.answer("GET", "/suno/act/wav/c1", body={"code": "success", "data": "https://cdn.example/c1.wav"})
    upstream.answer("GET", "/suno/act/midi/c1", body={"state": "running"})
    comet = CometClient(upstream.url, API_KEY, connect_timeout=1.0, read_timeout=2.0)  # export_paths="auto"
    assert comet.export("wav", "c1")["data"] == "https://cdn.example/c1.wav"
    assert comet.export("midi", "c1") == {"state": "running"}
    assert [r.path for r in upstream.received] == ["/suno/wav/c1", "/suno/act/wav/c1", "/suno/act/midi/c1"]
    assert remembered_family(comet.base_url) == "act"


def test_auto_keeps_the_seed_family_when_it_answers(upstream: StubUpstream) -> None:
    forget_families()
    upstream.answer("GET", "/suno/wav/c1", status=400, body={"code": "error", "message": "clip not complete"})
    comet = CometClient(upstream.url, API_KEY, connect_timeout=1.0, read_timeout=2.0)
    with pytest.raises(BadRequest, match="clip not complete"):
        comet.export("wav", "c1")
    with pytest.raises(BadRequest):
        comet.export("wav", "c1")
    assert [r.path for r in upstream.received] == ["/suno/wav/c1", "/suno/wav/c1"]  # never tried act
    assert remembered_family(comet.base_url) == "seed"


def test_a_clip_unknown_on_both_families_reports_the_seed_answer(upstream: StubUpstream) -> None:
    forget_families()
    comet = CometClient(upstream.url, API_KEY, connect_timeout=1.0, read_timeout=2.0)
    with pytest.raises(BadRequest) as caught:
        comet.export("timing", "nope")
    assert caught.value.status == 404 and remembered_family(comet.base_url) is None
    assert [r.path for r in upstream.received] == ["/suno/timing/nope", "/suno/act/timing/nope"]


@pytest.mark.parametrize("family", ["seed", "act"])
def test_a_configured_family_is_the_only_one_used(upstream: StubUpstream, family: str) -> None:
    comet = CometClient(upstream.url, API_KEY, connect_timeout=1.0, read_timeout=2.0, export_paths=family)
    with pytest.raises(BadRequest):
        comet.export("mp4", "c1")
    assert [r.path for r in upstream.received] == [{"seed": "/suno/mv/c1", "act": "/suno/act/mp4/c1"}[family]]


EXPORT_SHAPES: list[tuple[str, str, Any, str]] = [
    ("wav", "url in data", {"code": "success", "data": "https://cdn.example/c1.wav"}, DONE),
    ("wav", "object", {"code": "success", "data": {"state": "complete", "wav_url": "https://cdn.example/a.wav"}}, DONE),
    ("wav", "object running", {"code": "success", "data": {"state": "running", "wav_url": None}}, RUNNING),
    ("wav", "bare", {"state": "complete", "wav_url": "https://cdn.example/a.wav"}, DONE),
    ("wav", "task id", {"code": "success", "data": "9f1c-task"}, RUNNING),
    ("midi", "url in data", {"code": "success", "data": "https://cdn.example/c1.mid"}, DONE),
    ("midi", "bare", {"state": "complete", "instruments": []}, DONE),
    ("midi", "task id", {"code": "success", "data": "9f1c-task"}, RUNNING),
    ("timing", "bare", {"aligned_words": [{"word": "hi"}], "waveform_data": [0.1]}, DONE),
    ("timing", "object", {"code": "success", "data": {"aligned_words": []}}, DONE),
    ("timing", "task id", {"code": "success", "data": "9f1c-task"}, RUNNING),
    ("wav", "failed", {"code": "success", "data": {"state": "failed", "message": "no audio"}}, FAILED),
]


@pytest.mark.parametrize(("operation", "why", "answer", "state"), EXPORT_SHAPES,
                         ids=[f"{case[0]}-{case[1]}" for case in EXPORT_SHAPES])
def test_every_export_answer_shape_is_read(operation: str, why: str, answer: Any, state: str) -> None:
    record = operation_named(operation)
    assert record.poll is not None
    assert record.poll.read(answer, "c1").state == state
    assert (export_task_id(answer) == "9f1c-task") is (why == "task id")


def test_a_task_id_answer_is_followed_through_the_task_fetch(upstream: StubUpstream, client: CometClient) -> None:
    task = {"task_id": "t-9", "status": "COMPLETE", "data": {"audio_url": "https://cdn.example/t.wav"}}
    upstream.answer("GET", "/suno/fetch/t-9", body={"code": "success", "data": task})
    wav = operation_named("wav")
    answer = client.poll(wav, "c1", follow="t-9")
    assert [r.path for r in upstream.received] == ["/suno/fetch/t-9"]
    assert wav.poll is not None and wav.poll.read(answer, "c1").state == DONE
    assert export_task_id(answer) == "t-9"  # kept, so every later poll follows the same task
    upstream.answer("GET", "/suno/fetch/t-9", body={"code": "success", "data": {**task, "status": "FAILED",
                                                                              "fail_reason": "export failed"}})
    failed = wav.poll.read(client.poll(wav, "c1", follow="t-9"), "c1")
    assert failed.state == FAILED and "export failed" in failed.detail


def test_a_long_upstream_message_is_kept_whole(upstream: StubUpstream, client: CometClient) -> None:
    message = "model chirp-v5-5 is not available: " + "details " * 60
    upstream.answer("POST", "/suno/submit/music", status=503, body={"code": "error", "message": message})
    with pytest.raises(ModelUnavailable) as caught:
        client.request("music", json={})
    assert caught.value.message.startswith(message.strip()) and len(caught.value.message) > 400
    assert "choose another mv" in caught.value.message and caught.value.retryable is False


# --- HTTP errors ---------------------------------------------------------------------------

STATUS_CASES = [
    (400, BadRequest, False),
    (401, AuthFailed, False),
    (403, AuthFailed, False),
    (404, BadRequest, False),
    (413, BadRequest, False),
    (429, RateLimited, True),
    (500, UpstreamUnavailable, True),
    (502, UpstreamUnavailable, True),
    (503, ModelUnavailable, False),
    (504, UpstreamUnavailable, True),
    (524, UpstreamUnavailable, True),
    (418, UpstreamError, False),
]


@pytest.mark.parametrize(("status", "error_class", "retryable"), STATUS_CASES)
def test_every_documented_status_maps_to_its_exception(
    upstream: StubUpstream, client: CometClient, status: int, error_class: type, retryable: bool
) -> None:
    error_body = {"code": "error", "message": f"boom {status}", "data": None}
    upstream.answer("POST", "/suno/submit/music", status=status, body=error_body)
    with pytest.raises(UpstreamError) as caught:
        client.request("music", json={"gpt_description_prompt": "cat"})
    error = caught.value
    assert type(error) is error_class
    assert error.retryable is retryable
    hint = f" ({ModelUnavailable.HINT})" if status == 503 else ""
    assert (error.status, error.message, error.operation, error.sent) == (status, f"boom {status}{hint}", "music",
                                                                          True)
    assert client.last_status == status


def test_retry_after_is_parsed_onto_the_exception(upstream: StubUpstream, client: CometClient) -> None:
    error_body = {"code": "error", "message": "slow down"}
    upstream.answer("POST", "/suno/submit/music", status=429, body=error_body, headers={"Retry-After": "7"})
    with pytest.raises(RateLimited) as caught:
        client.request("music", json={})
    assert caught.value.retry_after == 7.0


def test_plain_text_error_body_becomes_a_short_excerpt(upstream: StubUpstream, client: CometClient) -> None:
    upstream.answer("GET", "/suno/fetch/t", status=502, body=b"<html>" + b"x" * 1000 + b"</html>")
    with pytest.raises(UpstreamUnavailable) as caught:
        client.fetch("t")
    assert caught.value.message.startswith("<html>") and len(caught.value.message) <= 200
    assert caught.value.body_excerpt is not None and len(caught.value.body_excerpt) <= 200


def test_error_envelope_in_a_200_is_a_bad_request(upstream: StubUpstream, client: CometClient) -> None:
    upstream.answer("POST", "/suno/submit/music", body={"code": "error", "message": "mv not supported", "data": None})
    with pytest.raises(BadRequest) as caught:
        client.submit("music", {"gpt_description_prompt": "cat"})
    assert (caught.value.status, caught.value.message, caught.value.retryable) == (200, "mv not supported", False)


def test_a_redirect_is_reported_not_followed(upstream: StubUpstream, client: CometClient) -> None:
    upstream.answer("POST", "/suno/submit/music", status=301, body=b"", headers={"Location": "https://elsewhere/"})
    with pytest.raises(UpstreamError) as caught:
        client.request("music", json={})
    assert caught.value.status == 301 and not caught.value.retryable


def test_the_key_never_shows_in_errors_repr_or_logs(
    upstream: StubUpstream, client: CometClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {"code": "error", "message": f"Invalid API key {API_KEY}", "data": None}
    upstream.answer("POST", "/suno/submit/music", status=401, body=echo)
    with pytest.raises(AuthFailed) as caught:
        client.request("music", json={})
    assert_no_key(caught.value)
    assert "[redacted]" in caught.value.message
    assert API_KEY not in repr(client) and "***" in repr(client)
    assert API_KEY not in caplog.text


# --- transport failures ---------------------------------------------------------------------


def test_connection_refused_is_unavailable_and_not_sent() -> None:
    # A port that was free a moment ago: nothing listens there, so the connection is refused.
    comet = CometClient(f"http://127.0.0.1:{free_port()}", API_KEY, connect_timeout=1.0, read_timeout=1.0)
    with pytest.raises(UpstreamUnavailable) as caught:
        comet.submit("music", {"gpt_description_prompt": "cat"})  # paid, yet safe to resend
    assert caught.value.sent is False and caught.value.retryable
    assert comet.last_status is None
    assert_no_key(caught.value)


def test_read_timeout_on_a_paid_submit_is_ambiguous(upstream: StubUpstream) -> None:
    upstream.answer("POST", "/suno/submit/music", delay=1.0)
    comet = CometClient(upstream.url, API_KEY, connect_timeout=1.0, read_timeout=0.2)
    with pytest.raises(AmbiguousSubmit) as caught:
        comet.submit("music", {"gpt_description_prompt": "cat"})
    assert caught.value.sent is True and caught.value.retryable is False
    assert caught.value.operation == "music"
    assert_no_key(caught.value)


def test_read_timeout_on_a_fetch_is_retryable_unavailable(upstream: StubUpstream) -> None:
    upstream.answer("GET", "/suno/fetch/t-1", delay=1.0)
    comet = CometClient(upstream.url, API_KEY, connect_timeout=1.0, read_timeout=0.2)
    with pytest.raises(UpstreamUnavailable) as caught:
        comet.fetch("t-1")
    assert caught.value.sent is True and caught.value.retryable and caught.value.task_id == "t-1"


HANG_UP_CASES = [
    ("POST", "/suno/submit/concat", lambda c: c.submit("concat", {"clip_id": "c", "is_infill": True}), AmbiguousSubmit),
    ("GET", "/suno/act/midi/c", lambda c: c.export("midi", "c"), UpstreamUnavailable),
]


@pytest.mark.parametrize(("method", "path", "call", "error_class"), HANG_UP_CASES)
def test_hang_up_after_sending_is_sent_true(
    upstream: StubUpstream, client: CometClient, method: str, path: str, call: Any, error_class: type
) -> None:
    """The stub reads the request and closes the connection: paid -> AmbiguousSubmit, unpaid -> retryable."""
    upstream.answer(method, path, hang_up=True)
    with pytest.raises(error_class) as caught:
        call(client)
    assert caught.value.sent is True


def test_a_2xx_that_is_not_json_is_ambiguous_for_paid_calls(upstream: StubUpstream, client: CometClient) -> None:
    upstream.answer("POST", "/suno/submit/music", body=b"<html>gateway</html>")
    upstream.answer("GET", "/suno/fetch/t", body=b"<html>gateway</html>")
    with pytest.raises(AmbiguousSubmit):
        client.submit("music", {"gpt_description_prompt": "cat"})
    with pytest.raises(UpstreamUnavailable):
        client.fetch("t")


def test_a_2xx_without_a_task_id_is_ambiguous(upstream: StubUpstream, client: CometClient) -> None:
    upstream.answer("POST", "/suno/submit/music", body={"code": "success", "message": "", "data": ""})
    with pytest.raises(AmbiguousSubmit) as caught:
        client.submit("music", {"gpt_description_prompt": "cat"})
    assert caught.value.status == 200 and caught.value.sent is True


def test_from_settings_takes_url_key_and_timeouts() -> None:
    settings = Settings(base_url="http://127.0.0.1:9/", api_key=API_KEY, connect_timeout=1.5, read_timeout=9.0)
    comet = CometClient.from_settings(settings)
    assert (comet.base_url, comet.connect_timeout, comet.read_timeout) == ("http://127.0.0.1:9", 1.5, 9.0)
    assert API_KEY not in repr(comet)


def test_unknown_endpoint_name_is_a_programming_error(client: CometClient) -> None:
    with pytest.raises(ValueError):
        client.request("nope")
    with pytest.raises(BadRequest) as caught:
        client.request("fetch_one", path_params={})
    assert caught.value.field == "task_id"

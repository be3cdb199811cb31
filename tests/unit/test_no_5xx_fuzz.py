"""Property-based fuzzing of the receiver (issue 11, finding 6): generated bodies (deep nesting, huge numbers, odd
unicode, bytes), headers and query strings thrown at every /v1 route of the app's url_map and at the callback
route with a valid token. No answer is a 5xx, and a rejected (4xx) request changes no state.

Bounded and deterministic for CI: ``derandomize=True`` and no example database.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text

from shared.config import Settings, hook_secret, load_settings
from shared.db import open_session
from shared.jobs.hook_urls import hook_token
from shared.models import Job
from webhook.app import create_app

FUZZ = hypothesis_settings(max_examples=200, derandomize=True, database=None, deadline=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                  HealthCheck.data_too_large, HealthCheck.filter_too_much])
STATE_TABLES = ("jobs", "upstream_attempts", "clips", "pipelines", "pipeline_steps", "bulk_batches", "bulk_lines",
                "callbacks", "idempotency_keys", "deliveries")


def _v1_routes() -> list[tuple[str, str]]:
    app = create_app({"HOOKLINE_SETTINGS": load_settings({"HOOKLINE_VAR_DIR": "/nonexistent-fuzz-var"})})
    return sorted((method, rule.rule) for rule in app.url_map.iter_rules() if rule.rule.startswith("/v1")
                  for method in rule.methods or () if method not in ("HEAD", "OPTIONS"))


V1_ROUTES = _v1_routes()

# --- generated input ------------------------------------------------------------------------------------------

ODD_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "²", "٣", "½", "\u202e", "\ufeff", "\x00", "a\u0301", "𝟘", "🎵" * 50, "\\ud800", "nan",
                     "-1", "0", "1e999", "9" * 400, "9999-12-31", "0001-01-01", "null", "true", "%", "../.."]),
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30, max_value=10**60),
    st.floats(allow_nan=False, allow_infinity=False), ODD_TEXT,
)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(ODD_TEXT, inner, max_size=4)), max_leaves=20)
FIELDS = ["operation", "params", "callback_url", "spec", "name", "overrides", "prompt", "tags", "title", "mv",
          "task_id", "status", "data", "code", "message", "steps", "from", "pick"]
OPERATIONS = ["music", "lyrics", "generate", "extend", "cover", "wav", "midi", "stems", "udio", "dance"]
FIELDED = st.fixed_dictionaries({}, optional={
    "operation": st.one_of(st.sampled_from(OPERATIONS), ODD_TEXT),
    "params": st.one_of(st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=5), JSON_VALUES),
    "spec": JSON_VALUES, "name": ODD_TEXT, "overrides": JSON_VALUES,
    "callback_url": st.sampled_from(["http://127.0.0.1:1/x", "https://example.com/h", "ftp://x", "", "http://[::1"]),
})


def _deep(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    if kind == "object":
        return '{"a":' * depth + "1" + "}" * depth
    return '{"params":' + '{"x":[' * depth + "]}" * depth + "}"  # nested under a real field


RAW_JSON = st.one_of(
    st.builds(_deep, st.integers(1, 200_000), st.sampled_from(["list", "object", "params"])),
    st.sampled_from(["1e400", "-1e400", "1" + "0" * 5000, '{"params": {"duration": 1e400}}', "NaN", "Infinity",
                     '{"a": "\\ud800"}', '{"operation": "music", "params": {"prompt": "\\udfff"}}', "{", "", "[]",
                     '{"a":1,"a":2}', '"\\u0000"']),
)
BODIES = st.one_of(
    JSON_VALUES.map(json.dumps), FIELDED.map(json.dumps), RAW_JSON,
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    ODD_TEXT,
)
CONTENT_TYPES = st.sampled_from([None, "application/json", "application/json; charset=utf-16", "text/csv",
                                 "application/x-ndjson", "text/plain", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x", "application/problem+json", "ü/ü"])
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                      max_size=60)
QUERY_NAMES = ["limit", "cursor", "status", "operation", "pipeline", "bulk", "created_after", "created_before",
               "since", "until", "unfinished", "skip_invalid", "rate", "name", "callback_url", "format", "x"]


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


QUERY_VALUES = st.one_of(
    ODD_TEXT,
    st.integers().map(str),
    JSON_VALUES.map(_cursor),
    st.integers(1, 100_000).map(lambda n: base64.urlsafe_b64encode(("[" * n + "]" * n).encode()).decode()),
    st.sampled_from(["²", "9999-12-31", "0001-01-01", "2026-01-01T00:00:00+99:00", "1e999", "nan", "-0"]),
)
QUERIES = st.dictionaries(st.one_of(st.sampled_from(QUERY_NAMES), ODD_TEXT), QUERY_VALUES, max_size=4)


@st.composite
def requests_(draw: st.DrawFn) -> dict[str, Any]:
    headers: dict[str, str] = {}
    content_type = draw(CONTENT_TYPES)
    if content_type:
        headers["Content-Type"] = content_type
    if draw(st.booleans()):
        headers["Idempotency-Key"] = draw(HEADER_TEXT)
    if draw(st.integers(0, 4)) == 0:
        headers["Authorization"] = "Bearer " + draw(HEADER_TEXT)
    if draw(st.integers(0, 4)) == 0:
        headers["X-Forwarded-For"] = draw(HEADER_TEXT)
    body = draw(BODIES)
    data = body.encode("utf-8", "surrogatepass")
    return {"headers": headers, "data": data, "query": draw(QUERIES)}


# --- state ------------------------------------------------------------------------------------------------------

def counts(settings: Settings) -> dict[str, int]:
    with open_session(settings) as session:
        return {table: session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
                for table in STATE_TABLES}


def job_snapshot(settings: Settings, job_id: str) -> tuple[Any, ...]:
    with open_session(settings) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return (job.status, job.updated_at, job.upstream_task_id, job.error,
                session.execute(text("SELECT count(*), coalesce(group_concat(id), '') FROM clips WHERE job_id = :j"),
                                {"j": job_id}).one())


def make_job(settings: Settings, status: str = "running") -> str:
    with open_session(settings) as session:
        job = Job(operation="music", params={"prompt": "x"}, status=status, upstream_task_id="task-1", attempts=1)
        session.add(job)
        session.commit()
        return job.id


def _path(rule: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        rule = rule.replace(f"<{name}>", quote(value, safe=""))
    return rule


@pytest.fixture
def app(settings):
    return create_app({"HOOKLINE_SETTINGS": settings.with_overrides(callback_allowlist=("127.0.0.1",)),
                       "TESTING": True})


@pytest.mark.parametrize(("method", "rule"), V1_ROUTES, ids=[f"{m} {r}" for m, r in V1_ROUTES])
def test_no_v1_route_answers_5xx_or_changes_state_when_it_refuses(app, settings, method, rule):
    client = app.test_client()
    known = make_job(settings)
    ids = st.one_of(st.just(known), ODD_TEXT.filter(bool))

    @FUZZ
    @given(request=requests_(), path_ids=st.fixed_dictionaries(
        {name: ids for name in ("job_id", "pipeline_id", "bulk_id") if f"<{name}>" in rule}))
    def probe(request: dict[str, Any], path_ids: dict[str, str]) -> None:
        before = counts(settings)
        path = _path(rule, path_ids)
        query = urlencode(request["query"], encoding="utf-8", errors="surrogatepass")
        resp = client.open(path, method=method, query_string=query, data=request["data"], headers=request["headers"])
        assert resp.status_code < 500, (method, path, query, request["data"][:300], resp.get_data()[:500])
        if 400 <= resp.status_code < 500:
            assert counts(settings) == before, (method, path, resp.status_code, resp.get_data()[:300])

    probe()


CALLBACK_STATUSES = st.one_of(st.sampled_from(["NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "STREAMING",
                                               "COMPLETE", "SUCCESS", "FAILURE", "FAILED", "complete"]), ODD_TEXT)
CLIPS = st.lists(st.fixed_dictionaries({"id": ODD_TEXT}, optional={
    "audio_url": st.one_of(st.just("https://cdn1.suno.ai/1.mp3"), ODD_TEXT), "status": ODD_TEXT,
    "title": ODD_TEXT, "metadata": st.one_of(JSON_VALUES, st.fixed_dictionaries({"duration": SCALARS})),
    "duration": SCALARS}), max_size=3)
TASKS = st.fixed_dictionaries({"task_id": st.one_of(st.just("task-1"), ODD_TEXT), "status": CALLBACK_STATUSES},
                              optional={"data": st.one_of(CLIPS, JSON_VALUES), "progress": ODD_TEXT,
                                        "fail_reason": ODD_TEXT, "action": ODD_TEXT})
CALLBACK_BODIES = st.one_of(
    TASKS.map(json.dumps),
    st.builds(lambda t, code: json.dumps({"code": code, "message": "x", "data": t}), TASKS, SCALARS),
    BODIES,
)


def test_callbacks_with_a_valid_token_never_answer_5xx_and_a_refusal_changes_nothing(app, settings):
    client = app.test_client()
    secret = hook_secret(settings)

    @FUZZ
    @given(body=CALLBACK_BODIES, content_type=CONTENT_TYPES, query=QUERIES)
    def probe(body: str, content_type: str | None, query: dict[str, str]) -> None:
        job_id = make_job(settings)
        before, job_before = counts(settings), job_snapshot(settings, job_id)
        url = f"/hooks/cometapi/{job_id}/1/{hook_token(secret, job_id, 1)}"
        headers = {"Content-Type": content_type} if content_type else {}
        resp = client.post(url, data=body.encode("utf-8", "surrogatepass"), headers=headers,
                           query_string=urlencode(query, encoding="utf-8", errors="surrogatepass"))
        assert resp.status_code < 500, (body[:300], resp.get_data()[:500])
        if 400 <= resp.status_code < 500:
            after = counts(settings)
            assert after.pop("callbacks") == before.pop("callbacks") + 1  # the rejection is recorded, once
            assert after == before and job_snapshot(settings, job_id) == job_before, (body[:300], resp.status_code)

    probe()


# --- the reproduced cases, each a 400 naming its field ------------------------------------------------------------

NESTED = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", "/v1/jobs", NESTED, "body"),
    ("POST", "/v1/jobs", _deep(100_000, "params"), "body"),
    ("POST", "/v1/jobs", _deep(40, "params"), "body"),  # parses, but deeper than any real body
    ("POST", "/v1/pipelines", '{"spec":' + NESTED + "}", "body"),
    ("GET", "/v1/jobs?limit=%C2%B2", None, "limit"),  # limit=²: "²".isdigit() is True, int("²") fails
    ("GET", "/v1/jobs?limit=%D9%A3", None, "limit"),  # limit=٣ (Arabic-Indic three)
    ("GET", "/v1/pipelines?cursor=" + _cursor(json.loads("[" * 500 + "]" * 500)), None, "cursor"),
    ("GET", "/v1/jobs?cursor=" + base64.urlsafe_b64encode(NESTED.encode()).decode(), None, "cursor"),
    ("GET", "/v1/costs?until=9999-12-31", None, "until"),
    ("GET", "/v1/costs?until=0001-01-01", None, "until"),
    ("GET", "/v1/costs?since=0001-01-01&until=0001-01-02", None, "until"),
])
def test_reproduced_500s_are_400s_naming_the_field(app, settings, method, path, body, field):
    before = counts(settings)
    resp = app.test_client().open(path, method=method, data=body, content_type="application/json")
    assert resp.status_code == 400, resp.get_data()[:300]
    assert resp.json["error"]["field"] == field
    assert counts(settings) == before


def test_a_deeply_nested_callback_with_a_valid_token_is_400(app, settings):
    job_id = make_job(settings)
    url = f"/hooks/cometapi/{job_id}/1/{hook_token(hook_secret(settings), job_id, 1)}"
    before = job_snapshot(settings, job_id)
    for body in (NESTED, '{"task_id": "task-1", "status": "COMPLETE", "data": ' + NESTED + "}"):
        resp = app.test_client().post(url, data=body, content_type="application/json")
        assert resp.status_code == 400 and "nested" in resp.json["error"]["message"]
    assert job_snapshot(settings, job_id) == before

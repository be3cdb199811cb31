"""Callback route limits (issue 11, finding 8): the token is verified before any throttling, only sources of
rejected callbacks are slowed, the source is the client behind the trusted proxies, the limiter's state is shared
through Redis, and a chunked body over 1 MiB is a 413."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from shared.config import hook_secret
from shared.db import open_session
from shared.jobs.hook_urls import hook_token
from shared.models import CallbackRecord
from tests.unit.test_receiver import load, make_job, task
from webhook.app import create_app
from webhook.hooks import MAX_CALLBACK_BYTES
from webhook.source_limits import RedisSourceLimiter, SourceLimiter

SHARED_PROXY = {"REMOTE_ADDR": "10.1.2.3"}  # behind nginx or an Ingress every callback comes from here


def url(settings, job_id, attempt=1):
    return f"/hooks/cometapi/{job_id}/{attempt}/{hook_token(hook_secret(settings), job_id, attempt)}"


def client_for(settings, **overrides):
    return create_app({"HOOKLINE_SETTINGS": settings.with_overrides(**overrides), "TESTING": True}).test_client()


def rejected_sources(settings):
    with open_session(settings) as s:
        return [r.remote_addr for r in s.scalars(select(CallbackRecord).where(CallbackRecord.verdict == "rejected"))]


def test_a_flood_of_bad_tokens_never_delays_genuine_callbacks_from_the_same_address(settings):
    client = client_for(settings, hook_rate_per_source=5.0)
    job_id = make_job(settings, status="running")
    genuine, bad = [], []
    for _ in range(40):
        for _ in range(5):  # ~25 bad requests for every genuine one, as in the report
            bad.append(client.post(f"/hooks/cometapi/{job_id}/1/forged", json=task(), environ_base=SHARED_PROXY))
        started = time.monotonic()
        resp = client.post(url(settings, job_id), json=task(status="STREAMING", data=[]), environ_base=SHARED_PROXY)
        genuine.append((resp.status_code, time.monotonic() - started))
    assert [code for code, _ in genuine] == [200] * 40
    assert max(took for _, took in genuine) < 1.0
    codes = [r.status_code for r in bad]
    assert set(codes) == {401, 429} and codes[:10] == [401] * 10  # the burst (2 * rate), then throttled
    assert all(r.headers.get("Retry-After") for r in bad if r.status_code == 429)
    assert load(settings, job_id).status == "streaming"  # the genuine callbacks were applied
    assert rejected_sources(settings).count("10.1.2.3") == codes.count(401)  # a 429 is not written row by row


def test_a_valid_token_with_a_bad_body_is_rejected_but_never_throttled(settings):
    client = client_for(settings, hook_rate_per_source=1.0)
    job_id = make_job(settings, status="running")
    codes = [client.post(url(settings, job_id), data="not json", content_type="application/json").status_code
             for _ in range(10)]
    assert codes == [400] * 10


@pytest.mark.parametrize("proxies", [0, 1])
def test_the_source_is_the_forwarded_client_only_behind_trusted_proxies(settings, proxies):
    client = client_for(settings, hook_rate_per_source=1.0, trusted_proxies=proxies)  # bursts of 2

    def forged(client_addr):
        return client.post("/hooks/cometapi/x/1/forged", json={}, environ_base=SHARED_PROXY,
                           headers={"X-Forwarded-For": client_addr}).status_code

    first = [forged("203.0.113.7") for _ in range(4)]
    other_client = forged("198.51.100.9")
    assert first[:2] == [401, 401] and first[2:] == [429, 429]
    if proxies:  # the proxy's X-Forwarded-For names the client: another client has its own allowance
        assert other_client == 401
        assert rejected_sources(settings) == ["203.0.113.7", "203.0.113.7", "198.51.100.9"]
    else:  # the header is anyone's to forge: ignored, the peer address is the source
        assert other_client == 429
        assert rejected_sources(settings) == ["10.1.2.3", "10.1.2.3"]


def test_a_forged_chain_cannot_pick_its_source_behind_one_proxy(settings):
    client = client_for(settings, hook_rate_per_source=1.0, trusted_proxies=1)
    # The client sends its own X-Forwarded-For; the one trusted proxy appends the real peer: only the last counts.
    codes = [client.post("/hooks/cometapi/x/1/forged", json={}, environ_base=SHARED_PROXY,
                         headers={"X-Forwarded-For": f"192.0.2.{n}, 203.0.113.7"}).status_code for n in range(4)]
    assert codes == [401, 401, 429, 429]


@pytest.fixture
def live_receiver(settings) -> Iterator[str]:
    """The receiver on a real werkzeug server in a thread: the test client does not stream chunked bodies."""
    server = make_server("127.0.0.1", 0, create_app({"HOOKLINE_SETTINGS": settings}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def chunked(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def test_a_chunked_body_over_one_mib_is_413_not_truncated(settings, live_receiver):
    job_id = make_job(settings, status="running")
    body = json.dumps(task(status="STREAMING", data=[])).encode()
    big = body + b" " * (2 * MAX_CALLBACK_BYTES - len(body))
    try:
        resp = requests.post(live_receiver + url(settings, job_id), data=chunked(big),
                             headers={"Content-Type": "application/json"}, timeout=30)
    except requests.ConnectionError:  # the server may answer and close before the client has sent it all
        pytest.fail("the receiver reset the connection instead of answering 413")
    assert resp.request.headers.get("Transfer-Encoding") == "chunked" and "Content-Length" not in resp.request.headers
    assert resp.status_code == 413, resp.text
    assert load(settings, job_id).status == "running"
    with open_session(settings) as s:
        assert [r.http_status for r in s.scalars(select(CallbackRecord))] == [413]


def test_a_chunked_body_of_exactly_one_mib_is_read_whole(settings, live_receiver):
    job_id = make_job(settings, status="running")
    body = json.dumps(task(status="STREAMING", data=[])).encode()
    padded = body + b" " * (MAX_CALLBACK_BYTES - len(body))
    resp = requests.post(live_receiver + url(settings, job_id), data=chunked(padded),
                         headers={"Content-Type": "application/json"}, timeout=30)
    assert resp.status_code == 200, resp.text
    over = requests.post(live_receiver + url(settings, job_id), data=padded + b" ",
                         headers={"Content-Type": "application/json"}, timeout=30)  # with a Content-Length
    assert over.status_code == 413


def test_two_receivers_on_a_redis_broker_share_one_limiter(settings, redis_url):
    shared = settings.with_overrides(broker_url=redis_url, hook_rate_per_source=1.0)  # bursts of 2
    first, second = client_for(shared), client_for(shared)
    assert isinstance(first.application.extensions["hookline.source_limiter"], RedisSourceLimiter)
    job_id = make_job(settings, status="running")

    def forged(client):
        return client.post("/hooks/cometapi/x/1/forged", json={}, environ_base=SHARED_PROXY).status_code

    assert [forged(first), forged(first)] == [401, 401]
    assert forged(second) == 429, "the second receiver sees the allowance the first one spent"
    resp = second.post(url(settings, job_id), json=task(status="STREAMING", data=[]), environ_base=SHARED_PROXY)
    assert resp.status_code == 200
    assert forged(second.application.test_client()) == 429
    import redis

    ttl = redis.Redis.from_url(redis_url).pttl("hookline:hooks:source:10.1.2.3")
    assert 0 < ttl <= 4000, "a source's bucket expires once it would be full again"


def test_the_redis_limiter_does_the_in_process_arithmetic(redis_url):
    in_process, in_redis = SourceLimiter(2.0), RedisSourceLimiter(redis_url, 2.0)
    for now in (1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.25, 1000.5, 1001.0):
        assert in_redis.allow("s", now=now) == pytest.approx(in_process.allow("s", now=now))


def test_the_embedded_broker_keeps_the_limiter_in_process(settings):
    assert isinstance(client_for(settings).application.extensions["hookline.source_limiter"], SourceLimiter)

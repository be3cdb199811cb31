"""One delivery attempt at a time against a real HTTP endpoint; signatures checked by the standardwebhooks package."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from shared.apikeys import create_api_key, webhook_secret_for
from shared.db import open_session
from shared.models import Delivery, DisabledEndpoint, Job, utcnow
from shared.outgoing import LOCAL_OWNER, deliver, emit_job_event, enable_endpoint
from shared.outgoing.delivery import next_delay
from tests.e2e.event_receiver import EventReceiver, verified


@pytest.fixture
def hook_settings(settings):
    return settings.with_overrides(callback_allowlist=("127.0.0.1",), webhook_schedule=(0.5, 1.0, 1.0))


@pytest.fixture
def receiver():
    with EventReceiver() as server:
        yield server


def finished_job(settings, callback_url, status="succeeded", api_key_id=None) -> str:
    now = utcnow()
    with open_session(settings) as s:
        job = Job(operation="lyrics", params={"prompt": "x"}, status=status, callback_url=callback_url,
                  api_key_id=api_key_id, created_at=now, updated_at=now, finished_at=now,
                  error=None if status == "succeeded" else "upstream rejected: nope")
        s.add(job)
        s.commit()
        return job.id


def delivery_for(settings, job_id) -> Delivery:
    with open_session(settings) as s:
        rows = s.scalars(select(Delivery).where(Delivery.payload["data"]["id"].as_string() == job_id)).all()
        assert len(rows) == 1, rows
        return rows[0]


def test_next_delay_follows_the_schedule_with_jitter_and_retry_after():
    schedule = (5.0, 300.0, 1800.0)
    rng = random.Random(7)
    assert 3.75 <= next_delay(1, schedule, rng=rng) <= 6.25
    assert 225 <= next_delay(2, schedule, rng=rng) <= 375
    assert next_delay(4, schedule) is None  # len(schedule) + 1 attempts in all
    assert next_delay(1, schedule, retry_after=42) == 42  # honoured exactly, no jitter
    assert next_delay(1, schedule, retry_after=10**6) == 1800  # capped at the longest wait
    assert next_delay(0, schedule) is None


def test_event_is_signed_so_standardwebhooks_verifies_it(hook_settings, receiver):
    job_id = finished_job(hook_settings, receiver.url("/ok"))
    emit_job_event(hook_settings, job_id)
    delivery = delivery_for(hook_settings, job_id)
    result = deliver(hook_settings, delivery.id)

    assert (result.status, result.http_status) == ("delivered", 200)
    (request,) = receiver.at("/ok")
    event = verified(webhook_secret_for(hook_settings, LOCAL_OWNER), request)
    assert event["type"] == "job.succeeded" and event["data"]["id"] == job_id and event["data"]["status"] == "succeeded"
    assert request.headers["webhook-id"] == delivery.msg_id
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
    wrong = Webhook(webhook_secret_for(hook_settings, "someone-else"))
    with pytest.raises(Exception, match="signature"):
        wrong.verify(request.body, request.headers)
    row = delivery_for(hook_settings, job_id)
    assert (row.status, row.attempts, row.last_http_status, row.last_error) == ("delivered", 1, 200, None)


def test_api_key_events_are_signed_with_that_keys_secret(hook_settings, receiver):
    with open_session(hook_settings) as s:
        key = create_api_key(s, hook_settings, "acme")
        s.commit()
    job_id = finished_job(hook_settings, receiver.url("/acme"), status="failed", api_key_id=key.id)
    emit_job_event(hook_settings, job_id)
    assert deliver(hook_settings, delivery_for(hook_settings, job_id).id).status == "delivered"
    event = verified(key.webhook_secret, receiver.at("/acme")[0])
    assert event["type"] == "job.failed" and event["data"]["error"] == "upstream rejected: nope"


def test_500_is_retried_on_the_schedule_and_the_retry_is_verifiable(hook_settings, receiver):
    receiver.answers["/flaky"] = [500]
    job_id = finished_job(hook_settings, receiver.url("/flaky"))
    emit_job_event(hook_settings, job_id)
    delivery_id = delivery_for(hook_settings, job_id).id

    first = deliver(hook_settings, delivery_id)
    assert first.status == "pending" and first.http_status == 500 and 0.375 <= (first.retry_in or 0) <= 0.625
    row = delivery_for(hook_settings, job_id)
    assert (row.attempts, row.last_http_status) == (1, 500) and "HTTP 500" in (row.last_error or "")
    early = deliver(hook_settings, delivery_id)  # a message that arrives before its time sends nothing
    assert early.status == "pending" and len(receiver.at("/flaky")) == 1
    time.sleep(first.retry_in or 0)
    assert deliver(hook_settings, delivery_id).status == "delivered"

    requests = receiver.at("/flaky")
    assert len(requests) == 2
    assert requests[0].headers["webhook-id"] == requests[1].headers["webhook-id"]  # same message, re-signed
    secret = webhook_secret_for(hook_settings, LOCAL_OWNER)
    assert verified(secret, requests[0]) == verified(secret, requests[1])
    assert delivery_for(hook_settings, job_id).attempts == 2


def test_delivery_fails_after_the_last_scheduled_attempt(hook_settings, receiver):
    settings = hook_settings.with_overrides(webhook_schedule=(0.0, 0.0))
    receiver.answers["/down"] = [503, 500, 502]
    job_id = finished_job(settings, receiver.url("/down"))
    emit_job_event(settings, job_id)
    delivery_id = delivery_for(settings, job_id).id
    outcomes = [deliver(settings, delivery_id).status for _ in range(3)]
    assert outcomes == ["pending", "pending", "failed"]
    assert deliver(settings, delivery_id).status == "skipped"  # nothing more is sent
    assert len(receiver.at("/down")) == 3
    row = delivery_for(settings, job_id)
    assert (row.status, row.attempts, row.last_http_status) == ("failed", 3, 502)


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retry_after_is_honoured(hook_settings, receiver, status):
    receiver.answers["/slow"] = [(status, {"Retry-After": "0.75"})]
    job_id = finished_job(hook_settings, receiver.url("/slow"))
    emit_job_event(hook_settings, job_id)
    result = deliver(hook_settings, delivery_for(hook_settings, job_id).id)
    assert result.status == "pending" and result.retry_in == 0.75


def test_410_disables_the_endpoint_and_later_events_are_recorded_not_sent(hook_settings, receiver):
    receiver.answers["/gone"] = [410]
    url = receiver.url("/gone")
    first = finished_job(hook_settings, url)
    emit_job_event(hook_settings, first)
    assert deliver(hook_settings, delivery_for(hook_settings, first).id).status == "disabled"
    with open_session(hook_settings) as s:
        assert s.scalar(select(DisabledEndpoint.target_url)) == url

    second = finished_job(hook_settings, url)
    emit_job_event(hook_settings, second)
    row = delivery_for(hook_settings, second)
    assert row.status == "disabled" and row.attempts == 0
    assert deliver(hook_settings, row.id).status == "skipped"
    assert len(receiver.at("/gone")) == 1

    with open_session(hook_settings) as s:
        assert enable_endpoint(s, url)
    assert deliver(hook_settings, row.id, manual=True).status == "delivered"  # hookline deliveries redeliver
    assert len(receiver.at("/gone")) == 2


def test_redirects_are_not_followed(hook_settings, receiver):
    receiver.answers["/moved"] = [(302, {"Location": "http://169.254.169.254/"})]
    job_id = finished_job(hook_settings, receiver.url("/moved"))
    emit_job_event(hook_settings, job_id)
    result = deliver(hook_settings, delivery_for(hook_settings, job_id).id)
    assert result.status == "pending" and "redirects are not followed" in (result.error or "")


def test_a_url_refused_at_send_time_is_not_called(settings, receiver):
    strict = settings.with_overrides(webhook_schedule=(0.0,))  # 127.0.0.1 is not allowlisted here
    job_id = finished_job(strict, receiver.url("/private"))  # written directly, as if the allowlist shrank since
    emit_job_event(strict, job_id)
    result = deliver(strict, delivery_for(strict, job_id).id)
    assert result.status == "pending" and "refused" in (result.error or "")
    assert receiver.at("/private") == []


def test_concurrent_attempts_send_once(hook_settings, receiver):
    job_id = finished_job(hook_settings, receiver.url("/once"))
    emit_job_event(hook_settings, job_id)
    delivery_id = delivery_for(hook_settings, job_id).id
    results = []
    threads = [threading.Thread(target=lambda: results.append(deliver(hook_settings, delivery_id).status))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(receiver.at("/once")) == 1
    assert results.count("delivered") == 1


def test_unreachable_endpoint_counts_as_an_attempt(hook_settings):
    job_id = finished_job(hook_settings, "http://127.0.0.1:1/nothing-listens")
    emit_job_event(hook_settings, job_id)
    result = deliver(hook_settings, delivery_for(hook_settings, job_id).id)
    assert result.status == "pending" and result.http_status is None and "ConnectionError" in (result.error or "")


def test_signing_matches_the_standard_webhooks_known_answer():
    secret, msg_id = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek"
    body = '{"test": 2432232314}'
    stamp = datetime.fromtimestamp(1614265330, UTC)
    assert Webhook(secret).sign(msg_id, stamp, body) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

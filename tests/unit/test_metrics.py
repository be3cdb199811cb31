"""The DB-derived Prometheus collector on SQLite and a real PostgreSQL: every family against rows with known values,
and the broker queue depth on the embedded broker and a real Redis."""

from __future__ import annotations

import platform
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from shared import db
from shared.config import Settings, load_settings
from shared.models import ApiKey, Attempt, CallbackRecord, Heartbeat, Job, Pipeline, utcnow
from webhook.metrics_collector import BROKER_QUEUES, HooklineCollector, queue_depth

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(params=["sqlite", "postgresql"])
def metrics_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    var = tmp_path / "var"
    url = str(request.getfixturevalue("postgres_url")) if request.param == "postgresql" else f"sqlite:///{var / 'h.db'}"
    settings = load_settings({"HOOKLINE_VAR_DIR": str(var), "HOOKLINE_DATABASE_URL": url,
                              "HOOKLINE_BUDGET_USD_PER_DAY": "5"})
    db.upgrade(settings)
    return settings


def scrape(settings: Settings) -> Samples:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HooklineCollector(settings, db.session_factory(settings)))
    text = generate_latest(registry).decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def job(start: datetime, **fields: object) -> Job:
    return Job(operation=fields.pop("operation", "music"), params={}, created_at=start, updated_at=start, **fields)


def earlier_today(now: datetime, minutes: float) -> datetime:
    """``minutes`` before ``now``, but never before today's UTC midnight: "spend today" must hold these at any hour."""
    return max(now - timedelta(minutes=minutes), now.replace(hour=0, minute=0, second=0, microsecond=0))


def seed(settings: Settings, now: datetime) -> dict[str, str]:
    t0 = now - timedelta(hours=1)
    with db.open_session(settings) as s:
        key = ApiKey(name="acme", key_hash="h" * 64, budget_usd_per_day=2.0)
        pipeline = Pipeline(spec={}, status="running", created_at=t0)
        s.add_all([key, pipeline])
        s.flush()
        finished = [  # job durations 3 s, 20 s, 100 s succeeded; 4000 s failed
            job(t0, status="succeeded", finished_at=t0 + timedelta(seconds=3)),
            job(t0, status="succeeded", finished_at=t0 + timedelta(seconds=20), operation="lyrics"),
            job(t0, status="succeeded", finished_at=t0 + timedelta(seconds=100)),
            job(t0, status="failed", finished_at=t0 + timedelta(seconds=4000)),
        ]
        # A pipeline: step 1 finishes at +9.5 s; step 2 is created on that callback and submitted 0.75 s after it;
        # step 3 is created after step 2 finished at +35 s and submitted 8 s later. (No value sits on a bucket
        # edge: SQLite's julianday arithmetic is only good to a millisecond or so.)
        step1 = job(t0, status="succeeded", pipeline_id=pipeline.id, step_name="a",
                    submitted_at=t0 + timedelta(seconds=1), finished_at=t0 + timedelta(seconds=9.5))
        step2 = job(t0 + timedelta(seconds=9.55), status="succeeded", pipeline_id=pipeline.id, step_name="b",
                    submitted_at=t0 + timedelta(seconds=10.25), finished_at=t0 + timedelta(seconds=35))
        step3 = job(t0 + timedelta(seconds=35.5), status="running", pipeline_id=pipeline.id, step_name="c",
                    submitted_at=t0 + timedelta(seconds=43), next_check_at=now - timedelta(seconds=5))
        waiting = [  # overdue: only in-flight jobs whose next check has passed count (step3 is one)
            job(t0, status="submitted", next_check_at=now - timedelta(seconds=30)),
            job(t0, status="streaming", next_check_at=now + timedelta(seconds=30)),
            job(t0, status="queued", next_check_at=now - timedelta(seconds=30)),
        ]
        s.add_all([*finished, step1, step2, step3, *waiting])
        s.flush()
        s.add_all([
            Attempt(job_id=step1.id, operation="music", endpoint="music", http_status=200, outcome="accepted",
                    cost_usd=0.144, api_key_id=key.id, started_at=earlier_today(now, 5)),
            Attempt(job_id=step2.id, operation="music", endpoint="music", http_status=200, outcome="accepted",
                    cost_usd=0.144, started_at=earlier_today(now, 4)),
            Attempt(job_id=step3.id, operation="music", endpoint="music", http_status=429, outcome="refused",
                    started_at=earlier_today(now, 3)),
            Attempt(operation="fetch", endpoint="fetch_many", http_status=None, outcome="error",
                    started_at=now - timedelta(days=3)),
            Attempt(operation="lyrics", endpoint="lyrics", http_status=200, outcome="accepted", cost_usd=0.02,
                    started_at=now - timedelta(days=3)),
        ])
        s.add_all([CallbackRecord(job_id=step1.id, verdict=v, http_status=200) for v in ("applied", "applied",
                                                                                          "duplicate")])
        s.add(CallbackRecord(job_id="nope", verdict="rejected", http_status=401))
        s.add_all([
            Heartbeat(name="worker:alive@host", seen_at=now - timedelta(seconds=5), detail={"state": "running"}),
            Heartbeat(name="worker:quiet@host", seen_at=now - timedelta(minutes=3), detail={"state": "running"}),
            Heartbeat(name="worker:stopped@host", seen_at=now - timedelta(seconds=2), detail={"state": "stopped"}),
            Heartbeat(name="reconcile", seen_at=now - timedelta(seconds=7), detail={"fetched": 3}),
        ])
        s.commit()
        return {"key": key.id}


def test_every_family_matches_the_rows(metrics_settings: Settings) -> None:
    now = utcnow()
    ids = seed(metrics_settings, now)
    m = scrape(metrics_settings)

    assert value(m, "hookline_jobs", status="succeeded", operation="music") == 4
    assert value(m, "hookline_jobs", status="succeeded", operation="lyrics") == 1
    assert value(m, "hookline_jobs", status="failed", operation="music") == 1
    assert value(m, "hookline_jobs", status="running", operation="music") == 1
    assert value(m, "hookline_pipelines", status="running") == 1
    assert value(m, "hookline_callbacks_total", verdict="applied") == 2
    assert value(m, "hookline_callbacks_total", verdict="rejected") == 1

    calls = {k: v for k, v in m.items() if k[0] == "hookline_upstream_calls_total"}
    assert sum(calls.values()) == 5
    assert value(m, "hookline_upstream_calls_total", operation="music", endpoint="music", http_status="200",
                 outcome="accepted") == 2
    assert value(m, "hookline_upstream_calls_total", operation="music", endpoint="music", http_status="429",
                 outcome="refused") == 1
    assert value(m, "hookline_upstream_calls_total", operation="fetch", endpoint="fetch_many", http_status="none",
                 outcome="error") == 1
    assert value(m, "hookline_upstream_cost_usd_total", operation="music") == pytest.approx(0.288)
    assert value(m, "hookline_upstream_cost_usd_total", operation="lyrics") == pytest.approx(0.02)
    assert value(m, "hookline_spend_today_usd", api_key=ids["key"]) == pytest.approx(0.144)
    assert value(m, "hookline_spend_today_usd", api_key="") == pytest.approx(0.144)  # 3-day-old spend excluded
    assert value(m, "hookline_budget_usd_per_day") == 5
    from importlib.metadata import version

    info = [k for k in m if k[0] == "hookline_build_info"]
    assert len(info) == 1 and m[info[0]] == 1
    assert dict(info[0][1]) == {"version": version("hookline"), "python": platform.python_version(),
                                "schema": db.head_revision(metrics_settings)}
    assert not [k for k in m if k[0] == "hookline_spend_usd_today"]  # renamed: the unit goes last

    # Job durations: one failed after 4000 s.
    assert value(m, "hookline_job_duration_seconds_count", status="failed") == 1
    assert value(m, "hookline_job_duration_seconds_bucket", status="failed", le="3600.0") == 0
    assert value(m, "hookline_job_duration_seconds_bucket", status="failed", le="7200.0") == 1
    assert value(m, "hookline_job_duration_seconds_sum", status="failed") == pytest.approx(4000, abs=0.01)
    # Succeeded: 3, 20, 100 s, and the pipeline's steps 9.5 s and 25.45 s.
    assert value(m, "hookline_job_duration_seconds_count", status="succeeded") == 5
    assert value(m, "hookline_job_duration_seconds_bucket", status="succeeded", le="5.0") == 1
    assert value(m, "hookline_job_duration_seconds_bucket", status="succeeded", le="10.0") == 2
    assert value(m, "hookline_job_duration_seconds_bucket", status="succeeded", le="30.0") == 4
    assert value(m, "hookline_job_duration_seconds_bucket", status="succeeded", le="120.0") == 5
    assert value(m, "hookline_job_duration_seconds_sum", status="succeeded") == pytest.approx(157.95, abs=0.01)

    # Hand-offs: 0.75 s (step1 -> step2) and 8 s (step2 -> step3).
    assert value(m, "hookline_callback_to_submit_seconds_count") == 2
    assert value(m, "hookline_callback_to_submit_seconds_bucket", le="0.5") == 0
    assert value(m, "hookline_callback_to_submit_seconds_bucket", le="1.0") == 1
    assert value(m, "hookline_callback_to_submit_seconds_bucket", le="5.0") == 1
    assert value(m, "hookline_callback_to_submit_seconds_bucket", le="10.0") == 2
    assert value(m, "hookline_callback_to_submit_seconds_bucket", le="+Inf") == 2
    assert value(m, "hookline_callback_to_submit_seconds_sum") == pytest.approx(8.75, abs=0.01)

    assert value(m, "hookline_overdue_jobs") == 2
    assert value(m, "hookline_workers_alive") == 1
    assert value(m, "hookline_worker_last_seen_timestamp_seconds", worker="quiet@host") == pytest.approx(
        (now - timedelta(minutes=3)).timestamp(), abs=0.01)
    assert value(m, "hookline_last_reconcile_timestamp_seconds") == pytest.approx(
        (now - timedelta(seconds=7)).timestamp(), abs=0.01)


def test_an_empty_database_scrapes_cleanly(metrics_settings: Settings) -> None:
    m = scrape(metrics_settings)
    assert value(m, "hookline_overdue_jobs") == 0
    assert value(m, "hookline_workers_alive") == 0
    assert value(m, "hookline_callback_to_submit_seconds_count") == 0
    assert ("hookline_last_reconcile_timestamp_seconds", frozenset()) not in m


def test_broker_queues_are_the_workers_queues() -> None:
    from shared.tasks import WORKER_QUEUES

    assert ",".join(BROKER_QUEUES) == WORKER_QUEUES


def test_queue_depth_counts_waiting_messages_on_each_broker(broker_url: str, tmp_path: Path) -> None:
    from worker.celery_app import create_celery

    settings = load_settings({"HOOKLINE_VAR_DIR": str(tmp_path / "var"), "HOOKLINE_BROKER_URL": broker_url})
    app = create_celery(settings)
    assert queue_depth(settings) == 0
    for n in range(3):
        app.send_task("hookline.submit_job", args=[f"job{n}"])
    assert queue_depth(settings) == 3
    app.send_task("hookline.download_artifacts", args=["job0"])  # routed to the files queue: counted too
    assert queue_depth(settings) == 4
    with app.connection_for_write() as conn:  # take one off, as a worker would
        message = conn.SimpleQueue(BROKER_QUEUES[0], no_ack=False).get(timeout=5)
        message.ack()
    assert queue_depth(settings) == 3
    app.close()


def test_queue_depth_is_none_when_the_broker_cannot_be_read(tmp_path: Path) -> None:
    from shared.cli.stack import free_port

    settings = load_settings({"HOOKLINE_VAR_DIR": str(tmp_path), "HOOKLINE_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"})
    assert queue_depth(settings) is None


# --- HOOKLINE_METRICS_TOKEN (issue 11, finding 10) -----------------------------------------------------------


def test_metrics_token_is_required_when_set(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    from webhook.app import create_app

    token = "metrics-s3cret-token"
    web = create_app({"HOOKLINE_SETTINGS": settings.with_overrides(metrics_token=token), "TESTING": True}).test_client()
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {token}"},
                    {"Authorization": f"Bearer {token}x"}, {"Authorization": "Bearer é"}):
        refused = web.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["WWW-Authenticate"].startswith("Bearer") and token not in refused.text
    allowed = web.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert allowed.status_code == 200 and "hookline_" in allowed.text
    assert token not in caplog.text


def test_metrics_are_open_when_no_token_is_set(settings: Settings) -> None:
    from webhook.app import create_app

    web = create_app({"HOOKLINE_SETTINGS": settings, "TESTING": True}).test_client()
    assert web.get("/metrics").status_code == 200
    assert web.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 200

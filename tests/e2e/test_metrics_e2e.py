"""/metrics, worker heartbeats, the reconcile mark and JSON logs on a real stack, on the embedded broker and Redis."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from shared.cli.stack import Stack, wait_until
from tests.conftest import StackFactory
from tests.e2e.driver import create_job, wait_job

pytestmark = pytest.mark.e2e

SONG = {"prompt": "[Verse]\nGauges in the engine room", "tags": "industrial", "title": "Gauges", "mv": "chirp-v4"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(stack: Stack) -> Samples:
    resp = requests.get(f"{stack.receiver_url}/metrics", timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    assert resp.headers["Content-Type"].count("charset") == 1
    openmetrics = requests.get(f"{stack.receiver_url}/metrics", headers={"Accept": "application/openmetrics-text"},
                               timeout=10)
    assert openmetrics.headers["Content-Type"].startswith("application/openmetrics-text")
    assert openmetrics.text.rstrip().endswith("# EOF")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(resp.text) for s in family.samples}


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def wait_metric(stack: Stack, check: Any, what: str, timeout: float = 45.0) -> Samples:
    def checked() -> Samples | None:
        samples = scrape(stack)
        return samples if check(samples) else None

    try:
        return wait_until(checked, timeout, 0.3, what)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}: {sorted(k for k in scrape(stack) if 'worker' in k[0])}") from None


def json_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON log lines of one process (Celery prints its banner as plain text: those lines are skipped)."""
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def test_metrics_heartbeats_and_json_logs_on_a_live_stack(make_stack: StackFactory, broker_url: str,
                                                           tmp_path: Path) -> None:
    stack, _ = make_stack(broker_url=broker_url, env={"HOOKLINE_LOG_FORMAT": "json"})
    music = create_job(stack, "music", SONG)
    lyrics = create_job(stack, "lyrics", {"prompt": "a gauge that never moves"})
    done = [wait_job(stack, music), wait_job(stack, lyrics)]
    assert [j["status"] for j in done] == ["succeeded", "succeeded"]

    m = wait_metric(stack, lambda s: (sample(s, "hookline_workers_alive") or 0) >= 1
                    and sample(s, "hookline_last_reconcile_timestamp_seconds") is not None, "a worker and a sweep")
    assert sample(m, "hookline_jobs", status="succeeded", operation="music") == 1
    assert sample(m, "hookline_jobs", status="succeeded", operation="lyrics") == 1
    assert (sample(m, "hookline_callbacks_total", verdict="applied") or 0) >= 2
    assert sample(m, "hookline_upstream_calls_total", operation="music", endpoint="music", http_status="200",
                  outcome="accepted") == 1
    assert sample(m, "hookline_upstream_cost_usd_total", operation="music") == pytest.approx(0.144)
    assert sample(m, "hookline_job_duration_seconds_count", status="succeeded") == 2
    assert sample(m, "hookline_overdue_jobs") == 0
    assert sample(m, "hookline_broker_queue_depth") is not None
    assert time.time() - (sample(m, "hookline_last_reconcile_timestamp_seconds") or 0) < 30
    (worker,) = [dict(labels)["worker"] for name, labels in m if name == "hookline_worker_last_seen_timestamp_seconds"]
    assert worker.startswith("worker0@")

    # A worker stopped cleanly says so at once: it no longer counts as alive.
    stack.kill("worker0", signal.SIGTERM)
    wait_metric(stack, lambda s: sample(s, "hookline_workers_alive") == 0, "the stopped worker to drop out")

    logs = tmp_path / "logs"
    worker_lines = json_lines(logs / "worker0.log")
    submitted = [line for line in worker_lines
                 if line.get("logger") == "hookline.submit" and line.get("job_id") == music]
    assert submitted, "the worker logs its submit as JSON with the job id"
    assert all({"ts", "level", "logger", "message"} <= set(line) for line in worker_lines)
    receiver_lines = json_lines(logs / "receiver.log")
    callbacks = [line for line in receiver_lines if line.get("logger") == "hookline.hooks"]
    assert {music, lyrics} <= {line.get("job_id") for line in callbacks}
    everything = "\n".join(p.read_text(errors="replace") for p in logs.glob("*.log"))
    assert "/hooks/cometapi/" not in everything or "<token>" in everything

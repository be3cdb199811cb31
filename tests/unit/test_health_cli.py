"""`hookline health --worker NAME | --beat`: exit 0 while the heartbeat is fresh, 1 when stale, stopped or missing
(what compose health checks and k8s liveness probes run). The beat writes its own heartbeat (beat_init)."""

from __future__ import annotations

import json
import socket
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from shared.cli.main import main
from shared.config import Settings
from shared.db import open_session
from shared.models import Heartbeat, utcnow
from worker import heartbeats
from worker.celery_app import create_celery

HOST = socket.gethostname()


@pytest.fixture
def env(settings: Settings, base_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in base_env.items():
        monkeypatch.setenv(key, value)
    return settings


def beat_row(settings: Settings, name: str, age: float, state: str = "running") -> None:
    with open_session(settings) as s:
        s.merge(Heartbeat(name=name, seen_at=utcnow() - timedelta(seconds=age), detail={"state": state}))
        s.commit()


def health(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["health", *args])
    return result.exit_code, result.stdout + result.stderr


def test_worker_health_follows_its_heartbeat(env: Settings) -> None:
    assert health("--worker", "worker") == (1, f"worker:worker@{HOST}: NOT alive, no heartbeat ever\n")
    beat_row(env, f"worker:worker@{HOST}", 3)
    code, out = health("--worker", "worker")
    assert code == 0 and "alive, last heartbeat 3s ago" in out
    assert health("--worker", f"worker@{HOST}")[0] == 0  # the full node name works too
    beat_row(env, f"worker:worker@{HOST}", 120)
    code, out = health("--worker", "worker", "--json")
    assert code == 1 and json.loads(out)["alive"] is False and json.loads(out)["age_seconds"] >= 120
    assert health("--worker", "worker", "--max-age", "300")[0] == 0
    beat_row(env, f"worker:worker@{HOST}", 1, state="stopped")
    code, out = health("--worker", "worker")
    assert code == 1 and "stopped" in out
    assert health()[0] == 2 and health("--worker", "w", "--beat")[0] == 2


def test_the_beat_writes_a_heartbeat_that_health_reads(env: Settings) -> None:
    assert health("--beat")[0] == 1
    app = create_celery(env)
    heartbeats.start_beat_heartbeat(sender=SimpleNamespace(app=app))
    try:
        deadline = time.monotonic() + 30
        while health("--beat")[0] != 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        code, out = health("--beat")
        assert code == 0 and f"beat:{HOST}: alive" in out
    finally:
        beat = heartbeats._running.pop(f"beat:{HOST}")
        beat.stop()
    assert health("--beat")[0] == 1  # stopped


def test_a_real_worker_with_loglevel_is_alive_then_stopped(env: Settings, base_env: dict[str, str],
                                                           tmp_path: object) -> None:
    """`hookline worker --loglevel DEBUG` (a real Celery worker on the embedded broker) logs at DEBUG, its heartbeat
    makes `hookline health --worker` exit 0, and after a warm shutdown the probe exits 1."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from shared.cli.stack import wait_until

    hookline = str(Path(sys.executable).with_name("hookline"))
    log = Path(str(tmp_path)) / "worker.log"
    full_env = {**os.environ, **base_env}
    with log.open("w") as out:
        proc = subprocess.Popen([hookline, "worker", "--loglevel", "debug", "--pool", "solo", "--name", "probe"],
                                env=full_env, stdout=out, stderr=subprocess.STDOUT)
    try:
        def alive() -> bool:
            done = subprocess.run([hookline, "health", "--worker", "probe"], env=full_env, capture_output=True)
            assert proc.poll() is None, log.read_text()[-3000:]
            return done.returncode == 0
        wait_until(alive, timeout=90, interval=0.5, what="the worker's heartbeat")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert " DEBUG " in log.read_text() or "[DEBUG" in log.read_text()
    stopped = subprocess.run([hookline, "health", "--worker", "probe"], env=full_env, capture_output=True, text=True)
    assert stopped.returncode == 1 and "stopped" in stopped.stdout
    bad = subprocess.run([hookline, "worker", "--loglevel", "LOUD"], env=full_env, capture_output=True, text=True)
    assert bad.returncode == 2 and "--loglevel" in bad.stderr

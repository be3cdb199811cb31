"""Follow-ups survive a broker outage (issue 11, finding 4), on real processes: sandbox, receiver, Celery worker and
beat on a Redis broker, which is stopped for 15 s while the jobs' COMPLETE callbacks arrive. The receiver commits
each job's follow-ups as an outbox row; when Redis is back, the reconciler publishes them, and every job ends with
every file stored and its ``job.succeeded`` event delivered."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from sqlalchemy import func, select

from shared.cli.stack import Stack, free_port, wait_until
from shared.db import open_session
from shared.models import Artifact, Job
from tests.conftest import StackFactory, require_binary
from tests.e2e.driver import get_job
from tests.e2e.event_receiver import EventReceiver

pytestmark = pytest.mark.e2e

SONG = {"prompt": "[Verse]\nLights out on the quay", "tags": "blues", "title": "Outage", "mv": "chirp-v4"}
JOBS = 4
FILES_PER_JOB = 6  # two clips, each with audio, cover and large cover
OUTAGE_SECONDS = 15.0
# Each task streams briefly, then takes this long to complete: its COMPLETE callback comes during the outage.
SANDBOX = ["--step-seconds", "0.3", "--clip-seconds", "2", "--faults", json.dumps({"slow_seconds": 6.0})]


@dataclass
class RestartableRedis:
    """A redis-server of this test's own (with an append-only file, so queued messages survive a restart)."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [require_binary("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                str(self.workdir), "--appendonly", "yes", "--save", ""]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)

        def answers() -> bool:
            with suppress(redis.ConnectionError):
                return bool(client.ping())
            return False

        wait_until(answers, 10, 0.05, "redis-server answering PING")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RestartableRedis]:
    server = RestartableRedis(tmp_path / "redis")
    server.workdir.mkdir()
    server.start()
    yield server
    server.stop()


def create_job(stack: Stack, callback_url: str) -> str:
    resp = requests.post(f"{stack.receiver_url}/v1/jobs", timeout=10,
                         json={"operation": "music", "params": SONG, "callback_url": callback_url})
    assert resp.status_code == 202, resp.text
    return str(resp.json()["id"])


def statuses(stack: Stack, ids: list[str]) -> list[str]:
    return [get_job(stack, job_id)["status"] for job_id in ids]


def stored_files(settings: Any, ids: list[str]) -> int:
    with open_session(settings) as session:
        return int(session.scalar(select(func.count()).select_from(Artifact)
                                  .where(Artifact.job_id.in_(ids), Artifact.status == "stored")) or 0)


def succeeded_events(receiver: EventReceiver) -> set[str]:
    """Ids of the jobs whose job.succeeded event arrived."""
    events = [json.loads(r.body) for r in receiver.at("/events")]
    return {e["data"]["id"] for e in events if e["type"] == "job.succeeded"}


def test_follow_ups_of_jobs_finished_while_redis_was_down_all_run_once_it_is_back(
    own_redis: RestartableRedis, make_stack: StackFactory  # in this order: the stack stops before Redis does
) -> None:
    started = time.monotonic()
    stack, settings = make_stack(broker_url=own_redis.url, sandbox_args=SANDBOX, env={
        "HOOKLINE_CALLBACK_ALLOWLIST": "127.0.0.1", "HOOKLINE_LOG_LEVEL": "WARNING"})
    with EventReceiver() as receiver:
        ids = [create_job(stack, receiver.url("/events")) for _ in range(JOBS)]
        # Every job accepted upstream (its COMPLETE is seconds away), then the broker goes.
        wait_until(lambda: all(s in ("submitted", "running", "streaming") for s in statuses(stack, ids)), 30, 0.05,
                   "every job submitted")
        own_redis.stop()
        down_at = time.monotonic()

        wait_until(lambda: statuses(stack, ids) == ["succeeded"] * JOBS, OUTAGE_SECONDS, 0.2,
                   "every job succeeded by its callback while the broker is down")
        assert stored_files(settings, ids) == 0 and not succeeded_events(receiver), "the broker really was down"
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
        own_redis.start()

        def everything_followed_up() -> bool:
            return stored_files(settings, ids) == JOBS * FILES_PER_JOB and succeeded_events(receiver) == set(ids)

        with suppress(TimeoutError):
            wait_until(everything_followed_up, 50, 0.5, "every file stored and every event delivered")
        with open_session(settings) as session:
            jobs = {j.id: j.status for j in session.scalars(select(Job).where(Job.id.in_(ids)))}
        report = (f"jobs {jobs}; stored files {stored_files(settings, ids)} of {JOBS * FILES_PER_JOB}; "
                  f"job.succeeded events for {len(succeeded_events(receiver))} of {JOBS} jobs")
        assert stored_files(settings, ids) == JOBS * FILES_PER_JOB, report
        assert succeeded_events(receiver) == set(ids), report
    print(f"broker outage: recovered in {time.monotonic() - down_at - OUTAGE_SECONDS:.1f}s after Redis came back; "
          f"test took {time.monotonic() - started:.1f}s")

"""Heartbeat rows that the health page and /metrics read: worker beats and the last reconcile sweep."""

from __future__ import annotations

import time

from shared import db
from shared.config import Settings
from shared.models import Heartbeat, utcnow
from webhook.metrics_collector import last_sweep, workers_seen
from worker.heartbeats import WorkerHeartbeat, record_sweep, upsert_heartbeat


def heartbeat(settings: Settings, name: str) -> Heartbeat | None:
    with db.open_session(settings) as session:
        return session.get(Heartbeat, name)


def test_upsert_inserts_then_updates_one_row(settings: Settings) -> None:
    with db.open_session(settings) as session:
        upsert_heartbeat(session, "worker:a", {"state": "running"})
        session.commit()
        first = session.get(Heartbeat, "worker:a").seen_at  # type: ignore[union-attr]
        time.sleep(0.01)
        upsert_heartbeat(session, "worker:a", {"state": "running", "n": 2})
        session.commit()
    row = heartbeat(settings, "worker:a")
    assert row is not None and row.seen_at > first and row.detail == {"state": "running", "n": 2}


def test_record_sweep_keeps_the_report_and_never_raises(settings: Settings) -> None:
    record_sweep(settings, {"fetched": 3, "requeued": 1, "errors": ["x"], "not_json": object()})
    with db.open_session(settings) as session:
        sweep = last_sweep(session)
    assert sweep is not None and sweep.detail == {"fetched": 3, "requeued": 1, "errors": ["x"]}
    assert (utcnow() - sweep.seen_at).total_seconds() < 5
    from shared.cli.stack import free_port

    broken = settings.with_overrides(database_url=f"postgresql+psycopg://h@127.0.0.1:{free_port()}/x?connect_timeout=1")
    record_sweep(broken, {"fetched": 1})  # logged, not raised: the sweep itself succeeded


def test_worker_heartbeat_beats_until_stopped_then_says_so(settings: Settings) -> None:
    beat = WorkerHeartbeat(settings, "w1@host", interval=0.05)
    beat.start()
    time.sleep(0.3)
    with db.open_session(settings) as session:
        (seen,) = workers_seen(session)
    assert seen.hostname == "w1@host" and seen.alive and seen.state == "running"
    beat.stop()
    with db.open_session(settings) as session:
        (seen,) = workers_seen(session)
    assert seen.state == "stopped" and not seen.alive

"""The reconcile sweep at scale, on SQLite and PostgreSQL: overdue in-flight jobs are claimed in bulk with one
UPDATE … RETURNING (FOR UPDATE SKIP LOCKED on PostgreSQL), and their fetches are handed out as batch tasks
(``hookline.fetch_batch``) that a worker applies against a real sandbox."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from sqlalchemy import insert, select

from shared import db
from shared.config import Settings
from shared.db import open_session
from shared.models import Job, new_id, utcnow
from shared.sandbox import start_background_sandbox
from tests.unit.test_submitting import SONG
from worker.overdue import claim_lease, claim_overdue_in_flight
from worker.reconciling import FETCH_BATCH, SweepReport, fetch_claimed, reconcile_overdue


def add_jobs(settings: Settings, count: int, *, status: str = "submitted", overdue_by: float = 60.0,
             task_ids: list[str] | None = None) -> list[str]:
    """``count`` music jobs with their check ``overdue_by`` seconds ago (negative: not due yet), oldest first."""
    now = utcnow()
    ids = [new_id() for _ in range(count)]
    rows = [{"id": job_id, "operation": "music", "params": {}, "status": status, "attempts": 1, "polls": 0,
             "upstream_task_id": task_ids[n] if task_ids else f"task-{job_id}", "created_at": now,
             "updated_at": now, "submitted_at": now, "next_check_at": now - timedelta(seconds=overdue_by - n)}
            for n, job_id in enumerate(ids)]
    with open_session(settings) as session:
        session.execute(insert(Job), rows)
        session.commit()
    return ids


def test_claim_takes_the_oldest_overdue_in_flight_jobs_once(any_db: Settings) -> None:
    overdue = add_jobs(any_db, 10)
    later = add_jobs(any_db, 5, overdue_by=-600)
    queued = add_jobs(any_db, 3, status="queued")
    finished = add_jobs(any_db, 2, status="succeeded")
    now = utcnow()
    with open_session(any_db) as session:
        first = claim_overdue_in_flight(session, any_db, now, 6)
        session.commit()
    assert sorted(c.id for c in first) == sorted(overdue[:6])  # the oldest (RETURNING has no order)
    assert {(c.operation, c.upstream_task_id) for c in first} == {("music", f"task-{i}") for i in overdue[:6]}
    with open_session(any_db) as session:
        second = claim_overdue_in_flight(session, any_db, now, 100)
        session.commit()
        assert sorted(c.id for c in second) == sorted(overdue[6:])
        assert claim_overdue_in_flight(session, any_db, now, 100) == []  # all leased
        leased = {j.id: j.next_check_at for j in session.scalars(select(Job).where(Job.id.in_(overdue)))}
        untouched = list(session.scalars(select(Job).where(Job.id.in_(later + queued + finished))))
    lease = claim_lease(any_db)
    assert all(abs((at - (now + lease).replace(tzinfo=at.tzinfo)).total_seconds()) < 1 for at in leased.values())
    assert all(j.next_check_at is not None and j.updated_at == j.created_at for j in untouched)


def test_concurrent_claims_on_postgres_skip_each_others_rows(settings: Settings, postgres_url: str) -> None:
    any_db = settings.with_overrides(database_url=postgres_url)  # SKIP LOCKED is PostgreSQL's; SQLite has one writer
    db.upgrade(any_db)
    overdue = add_jobs(any_db, 20)
    now = utcnow()
    with open_session(any_db) as holder:
        held = claim_overdue_in_flight(holder, any_db, now, 8)  # not committed: its rows stay locked
        found: list[list[str]] = []
        other = threading.Thread(target=lambda: found.append(_claim_all(any_db, now)))
        other.start()
        other.join(timeout=30)
        assert not other.is_alive(), "the second claim waited for the first one's locks"
        holder.commit()
    assert sorted(c.id for c in held) == sorted(overdue[:8])
    assert sorted(found[0]) == sorted(overdue[8:])


def _claim_all(settings: Settings, now: object) -> list[str]:
    with open_session(settings) as session:
        claimed = claim_overdue_in_flight(session, settings, now, 100)  # type: ignore[arg-type]
        session.commit()
        return [c.id for c in claimed]


@pytest.fixture
def sandbox() -> Iterator[str]:
    box = start_background_sandbox({"STEP_SECONDS": 0.05, "CLIP_SECONDS": 3})
    yield box.url
    box.stop()


def test_the_sweep_fans_fetches_out_and_the_batches_finish_the_jobs(any_db: Settings, sandbox: str) -> None:
    task_ids = [requests.post(f"{sandbox}/suno/submit/music", json=SONG, timeout=10).json()["data"]
                for _ in range(FETCH_BATCH + 10)]
    time.sleep(0.5)  # COMPLETE on the sandbox by now, as if their callbacks had been lost
    settings = any_db.with_overrides(base_url=sandbox)
    ids = add_jobs(settings, len(task_ids), task_ids=task_ids)
    batches: list[tuple[str, list[str]]] = []
    report = reconcile_overdue(settings, enqueue=lambda _: None,
                               dispatch=lambda action, job_ids: batches.append((action, job_ids)))
    assert (report.dispatched, report.fetch_calls, report.fetched) == (2, 0, 0)  # handed out, not fetched here
    assert [len(b) for _, b in batches] == [FETCH_BATCH, 10] and sorted(sum((b for _, b in batches), [])) == sorted(ids)
    assert reconcile_overdue(settings, enqueue=lambda _: None, dispatch=lambda *_: None).dispatched == 0  # leased

    from shared.cometapi import CometClient

    done = SweepReport()
    for action, job_ids in batches:  # what hookline.fetch_batch runs on a worker
        with open_session(settings) as session:
            fetch_claimed(session, settings, CometClient.from_settings(settings), action, job_ids, done)
    assert (done.fetch_calls, done.fetched, done.applied) == (2, len(ids), len(ids))
    with open_session(settings) as session:
        assert {j.status for j in session.scalars(select(Job).where(Job.id.in_(ids)))} == {"succeeded"}


def test_a_batch_the_broker_will_not_take_is_fetched_by_the_sweep_itself(settings: Settings, sandbox: str) -> None:
    task_id = requests.post(f"{sandbox}/suno/submit/music", json=SONG, timeout=10).json()["data"]
    time.sleep(0.5)
    cfg = settings.with_overrides(base_url=sandbox)
    (job_id,) = add_jobs(cfg, 1, task_ids=[task_id])

    def broker_down(action: str, job_ids: list[str]) -> None:
        raise ConnectionError("broker down")

    report = reconcile_overdue(cfg, enqueue=lambda _: None, dispatch=broker_down)
    assert (report.dispatched, report.fetch_calls, report.applied) == (0, 1, 1)
    with open_session(cfg) as session:
        assert session.get(Job, job_id).status == "succeeded"  # type: ignore[union-attr]

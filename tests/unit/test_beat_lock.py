"""One beat: the SQL lease (SQLite and PostgreSQL), and two real ``hookline beat`` processes where the second
stands by, sends nothing, and takes over once the first is killed."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from shared.cli.stack import Stack, wait_until
from shared.config import Settings
from shared.db import open_session
from shared.models import BeatLease, utcnow
from worker.beat_lock import LEASE_NAME, hold_lease, release_lease


def lease_holder(settings: Settings) -> str | None:
    with open_session(settings) as session:
        return session.scalar(select(BeatLease.holder).where(BeatLease.name == LEASE_NAME))


def test_one_holder_renews_others_wait_until_it_expires_or_is_released(any_db: Settings) -> None:
    assert hold_lease(any_db, "a") and lease_holder(any_db) == "a"
    assert hold_lease(any_db, "a")  # renewing
    assert not hold_lease(any_db, "b") and lease_holder(any_db) == "a"
    with open_session(any_db) as session:  # a's last renewal was long ago: it died
        session.execute(update(BeatLease).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert hold_lease(any_db, "b") and lease_holder(any_db) == "b"
    assert not hold_lease(any_db, "a")
    release_lease(any_db, "a")  # not a's to release
    assert lease_holder(any_db) == "b"
    release_lease(any_db, "b")
    assert lease_holder(any_db) is None and hold_lease(any_db, "a")


def sent(log: Path) -> int:
    return log.read_text(errors="replace").count("Sending due task") if log.exists() else 0


@pytest.mark.e2e
def test_a_second_beat_stands_by_and_takes_over_when_the_first_dies(base_env: dict[str, str], settings: Settings,
                                                                    tmp_path: Path) -> None:
    env = {**base_env, "HOOKLINE_BEAT_LEASE": "3", "HOOKLINE_RECONCILE_INTERVAL": "1",
           "HOOKLINE_BROKER_URL": settings.broker_url}  # one broker, one database: two hosts' beats
    logs = tmp_path / "logs"
    stack = Stack(env=env, log_dir=logs, workers=0, beat=False)
    try:
        first = stack._spawn("beat-a", [*_hookline(), "beat"])
        wait_until(lambda: lease_holder(settings) and f":{first.pid}:" in (lease_holder(settings) or ""), 60, 0.2,
                   "beat A holds the lease")
        wait_until(lambda: sent(logs / "beat-a.log") >= 2, 60, 0.2, "beat A sends")
        stack.env["HOOKLINE_VAR_DIR"] = str(tmp_path / "host-b")  # its own schedule file, as on another host
        second = stack._spawn("beat-b", [*_hookline(), "beat"])
        wait_until(lambda: "standing by" in (logs / "beat-b.log").read_text(errors="replace")
                   if (logs / "beat-b.log").exists() else False, 60, 0.2, "beat B stands by")
        time.sleep(3)
        assert sent(logs / "beat-b.log") == 0 and f":{first.pid}:" in (lease_holder(settings) or "")

        stack.kill("beat-a")  # SIGKILL: no clean release, the lease must expire
        wait_until(lambda: f":{second.pid}:" in (lease_holder(settings) or ""), 60, 0.2, "beat B takes the lease")
        wait_until(lambda: sent(logs / "beat-b.log") >= 2, 60, 0.2, "beat B sends")
    finally:
        stack.stop()


def _hookline() -> list[str]:
    from shared.cli.stack import HOOKLINE

    return list(HOOKLINE)

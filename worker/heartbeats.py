"""Last-seen marks in the ``heartbeats`` table: one row per worker, one for the reconciler's last sweep.

The health page and /metrics read them, so "which workers are alive" works across machines with no broker
broadcast (the embedded broker has none). Importing this module connects the Celery signals; worker/celery_app.py
imports it.

The beat is a daemon thread started on ``worker_ready``, not Celery's own heartbeat timer: a slow database write
(SQLite waits up to 30 s for a lock) must never stall the consumer's timer, which also drives message handling.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any, cast

from celery.signals import beat_init, worker_ready, worker_shutdown
from sqlalchemy import CursorResult, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.db import open_session
from shared.models import Heartbeat, utcnow

log = logging.getLogger("hookline.heartbeats")

HEARTBEAT_SECONDS = 10.0
WORKER_PREFIX = "worker:"
BEAT_PREFIX = "beat:"  # the beat process marks itself too: its liveness is not the workers' (`hookline health --beat`)
RECONCILE = "reconcile"


def upsert_heartbeat(session: Session, name: str, detail: dict[str, Any] | None) -> None:
    """Set ``name``'s seen_at to now (UPDATE first, INSERT when new; portable, race-safe). The caller commits."""
    values = {"seen_at": utcnow(), "detail": detail}
    stmt = update(Heartbeat).where(Heartbeat.name == name).values(**values)
    updated = cast("CursorResult[Any]", session.execute(stmt))
    if updated.rowcount:
        return
    try:
        with session.begin_nested():
            session.add(Heartbeat(name=name, **values))
    except IntegrityError:  # another process inserted it between our UPDATE and INSERT
        session.execute(update(Heartbeat).where(Heartbeat.name == name).values(**values))


def beat_once(settings: Settings, name: str, detail: dict[str, Any] | None) -> None:
    with open_session(settings) as session:
        upsert_heartbeat(session, name, detail)
        session.commit()


def record_sweep(settings: Settings, report: dict[str, Any]) -> None:
    """Mark a finished reconcile sweep (its counts go in ``detail``). Never raises: the sweep itself succeeded."""
    try:
        beat_once(settings, RECONCILE, {k: v for k, v in report.items() if _jsonable(v)})
    except Exception:
        log.exception("could not record the reconcile sweep")


def _jsonable(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool, type(None))) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    )


class WorkerHeartbeat:
    """A daemon thread that marks ``worker:<hostname>`` every HEARTBEAT_SECONDS until stopped."""

    def __init__(self, settings: Settings, hostname: str, interval: float = HEARTBEAT_SECONDS,
                 prefix: str = WORKER_PREFIX) -> None:
        self.settings = settings
        self.name = prefix + hostname
        self.interval = interval
        self.started_at = utcnow().isoformat()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hookline-heartbeat", daemon=True)

    def detail(self, state: str) -> dict[str, Any]:
        return {"state": state, "pid": os.getpid(), "host": socket.gethostname(), "started_at": self.started_at,
                "interval": self.interval}

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                beat_once(self.settings, self.name, self.detail("running"))
            except Exception:
                log.warning("heartbeat %s failed", self.name, exc_info=True)
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            beat_once(self.settings, self.name, self.detail("stopped"))
        except Exception:
            log.warning("final heartbeat %s failed", self.name, exc_info=True)


_running: dict[str, WorkerHeartbeat] = {}


@worker_ready.connect
def start_worker_heartbeat(sender: Any = None, **_: Any) -> None:
    from shared.tasks import settings_of

    hostname = getattr(sender, "hostname", None) or socket.gethostname()
    app = getattr(sender, "app", None)
    settings = settings_of(app) if app is not None else None
    if settings is None or hostname in _running:
        return
    heartbeat = WorkerHeartbeat(settings, hostname)
    _running[hostname] = heartbeat
    heartbeat.start()


@worker_shutdown.connect
def stop_worker_heartbeats(**_: Any) -> None:
    while _running:
        _hostname, heartbeat = _running.popitem()
        heartbeat.stop()


@beat_init.connect
def start_beat_heartbeat(sender: Any = None, **_: Any) -> None:
    """``beat:<hostname>`` every HEARTBEAT_SECONDS while the beat runs (a daemon thread: it ends with the process)."""
    from shared.tasks import settings_of

    app = getattr(sender, "app", None)
    settings = settings_of(app) if app is not None else None
    name = BEAT_PREFIX + socket.gethostname()
    if settings is None or name in _running:
        return
    heartbeat = WorkerHeartbeat(settings, socket.gethostname(), prefix=BEAT_PREFIX)
    _running[name] = heartbeat
    heartbeat.start()

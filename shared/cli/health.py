"""`hookline health`: liveness of one worker or the beat from their heartbeat rows, for compose health checks and
k8s liveness probes (exit 0 alive, 1 stale, missing or stopped; 2 when the database cannot be read)."""

from __future__ import annotations

import socket
from datetime import timedelta

import click

from shared.cli.db_commands import echo_result, json_option

STALE_AFTER = 35.0  # seconds: three missed 10 s heartbeats and some slack (as /metrics' hookline_workers_alive)
WORKER_PREFIX, BEAT_PREFIX = "worker:", "beat:"  # worker.heartbeats writes these names


def heartbeat_name(worker: str | None, beat: bool) -> str:
    """``worker:<name>@<host>`` (a bare name gets this host, as `hookline worker --name` does), ``beat:<host>``."""
    if beat:
        return BEAT_PREFIX + socket.gethostname()
    assert worker is not None
    return WORKER_PREFIX + (worker if "@" in worker else f"{worker}@{socket.gethostname()}")


@click.command()
@click.option("--worker", metavar="NAME", help="a worker's node name (`worker` means worker@<this host>)")
@click.option("--beat", is_flag=True, help="the beat running on this host")
@click.option("--max-age", type=click.FloatRange(min=1), default=STALE_AFTER, show_default=True,
              help="seconds since the last heartbeat before it counts as stale")
@json_option
def health(worker: str | None, beat: bool, max_age: float, as_json: bool) -> None:
    """Exit 0 when the worker (or beat) wrote a heartbeat in the last --max-age seconds, else 1."""
    from shared.cli.submit import database_settings
    from shared.db import open_session
    from shared.models import Heartbeat, utcnow

    if bool(worker) == beat:
        raise click.UsageError("give --worker NAME or --beat")
    name = heartbeat_name(worker, beat)
    with open_session(database_settings()) as session:
        row = session.get(Heartbeat, name)
        seen_at, state = (row.seen_at, (row.detail or {}).get("state")) if row is not None else (None, None)
    age = (utcnow() - seen_at).total_seconds() if seen_at is not None else None
    alive = age is not None and age <= max_age and state != "stopped"
    if age is None:
        why = "no heartbeat ever"
    elif state == "stopped":
        why = f"stopped {age:.0f}s ago"
    else:
        why = f"last heartbeat {age:.0f}s ago" + ("" if alive else f" (stale after {timedelta(seconds=max_age)})")
    echo_result(as_json, {"name": name, "alive": alive, "age_seconds": age, "state": state},
                f"{name}: {'alive' if alive else 'NOT alive'}, {why}")
    if not alive:
        raise SystemExit(1)

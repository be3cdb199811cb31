"""A1-A5: admission (issue 12) on real processes: sandbox, receiver, worker(s), beat, Redis broker, SQLite.

    python -m bench.a_admission [--only A1,A3] [--bulk 2000] [--a2-sizes 100,1000,10000] [--a5-jobs 100000]

A1 interactive behind bulk: a bulk file (``--bulk`` lyrics jobs), then 20 interactive jobs 0.5 s apart, with the
   cap at 3 and with no cap. Wait = job created to its first upstream submit (the attempt row). Goal: each
   interactive job within one slot turnover (mean time between two jobs finishing) + 1 s.
A2 broker cost: Redis commands (INFO commandstats) per finished job for backlogs behind a cap of 3, measured over
   the same window (``--a2-window`` s, or until the backlog is done); and uncapped. Goal: flat within ±20% and
   within 2x of uncapped.
A3 fairness: two API keys with bulks of ``--bulk`` and ``--bulk``/10 behind a cap of 4. Goal: each 50% ± 10% of
   admissions while both have work; then the remaining key gets every slot (slot occupancy over that stretch).
A4 utilisation: ``--a4-jobs`` jobs behind a cap of 10: wall time (first admission to last finish) / (N x mean job
   duration / C), job duration = first upstream submit to finished. Goal: <= 1.10.
A5 memory: ``--a5-jobs`` queued jobs (bulk-INSERTed rows) behind a cap of 10; one worker and beat run for
   ``--a5-seconds``; worker RSS (its process tree) sampled. Goal: under 200 MB and flat.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import func, insert, select

from bench.harness import (
    Figure,
    bench_parser,
    make_env,
    median,
    parse_args,
    percentile,
    report,
    start_redis,
    workdir,
)
from bench.p5_in_flight import RssSampler
from shared.cli.stack import Stack, free_port, wait_until
from shared.config import Settings
from shared.db import open_session
from shared.models import Attempt, Job, new_id, utcnow

WORDS = {"prompt": "a song about queues"}
WINDOW: int | None = None  # HOOKLINE_ADMISSION_WINDOW for every stack (--window); None: the default


def admission_stack(root: Path, *, cap: int | None, step: float = 0.1, workers: int = 1,
                    concurrency: int = 4) -> tuple[Stack, Settings, str]:
    receiver_port, sandbox_port = free_port(), free_port()
    extra = {"HOOKLINE_RECONCILE_INTERVAL": "5", "HOOKLINE_LOG_LEVEL": "WARNING"}
    if WINDOW:
        extra["HOOKLINE_ADMISSION_WINDOW"] = str(WINDOW)
    if cap:
        extra["HOOKLINE_MAX_IN_FLIGHT"] = str(cap)
    env = make_env(root, receiver_port=receiver_port, sandbox_port=sandbox_port, extra=extra)
    stack = Stack(env=env.env, log_dir=env.log_dir, sandbox_port=sandbox_port, receiver_port=receiver_port,
                  sandbox_args=["--step-seconds", str(step), "--clip-seconds", "2"], workers=workers, beat=True,
                  worker_concurrency=concurrency)
    broker = start_redis(stack)
    env.env["HOOKLINE_BROKER_URL"] = broker
    stack.start()
    wait_for_workers(env.settings, workers)  # a worker still starting would count as admission delay
    return stack, env.settings, broker


def wait_for_workers(settings: Settings, workers: int) -> None:
    """Until ``workers`` Celery workers answer a broadcast ping (at WARNING their log says nothing when ready)."""
    from shared.tasks import sender

    control = sender(settings).control
    wait_until(lambda: len(control.ping(timeout=0.5) or []) >= workers, 120, 0.2, f"{workers} worker(s) ready")


def accept_file(settings: Settings, root: Path, n: int, *, api_key_id: str | None = None, tag: str = "b") -> str:
    from shared.bulk.accept import accept_bulk
    from shared.bulk.source import BulkSource

    path = root / f"{tag}.jsonl"
    path.write_text("".join(json.dumps({"operation": "lyrics", "params": {"prompt": f"{tag} {i}"}}) + "\n"
                            for i in range(n)))
    report_ = accept_bulk(settings, BulkSource.from_path(path), owner=api_key_id or "", api_key_id=api_key_id)
    assert report_.bulk_id is not None and report_.accepted == n, report_.as_json()
    return report_.bulk_id


def rows(settings: Settings) -> list[dict[str, Any]]:
    """Every job with its first upstream submit time."""
    with open_session(settings) as s:
        first = dict(s.execute(select(Attempt.job_id, func.min(Attempt.started_at)).group_by(Attempt.job_id)).all())
        return [{"id": j.id, "owner": j.owner, "bulk": j.bulk_id, "created": j.created_at, "admitted": j.admitted_at,
                 "sent": first.get(j.id), "finished": j.finished_at} for j in s.scalars(select(Job))]


def secs(a: datetime | None, b: datetime | None) -> float:
    assert a is not None and b is not None
    return (b - a).total_seconds()


def finished(settings: Settings, ids: list[str] | None = None) -> int:
    stmt = select(func.count()).select_from(Job).where(Job.finished_at.is_not(None))
    with open_session(settings) as s:
        return int(s.scalar(stmt.where(Job.id.in_(ids)) if ids else stmt) or 0)


def turnover(jobs: list[dict[str, Any]], start: datetime, end: datetime) -> float:
    """Mean seconds between two jobs finishing (two slots freeing) between ``start`` and ``end``."""
    ends = sorted(j["finished"] for j in jobs if j["finished"] and start <= j["finished"] <= end)
    return secs(ends[0], ends[-1]) / max(1, len(ends) - 1) if len(ends) > 1 else float("nan")


def a1(bulk: int, cap: int | None) -> list[Figure]:
    from shared.producer import submit_job

    label = f"cap {cap}" if cap else "no cap"
    with workdir("a1") as root:
        stack, settings, _ = admission_stack(root, cap=cap)
        with stack:
            accept_file(settings, root, bulk)
            urgent = []
            for i in range(20):
                urgent.append(submit_job("lyrics", {"prompt": f"urgent {i}"}, settings=settings))
                time.sleep(0.5)
            wait_until(lambda: finished(settings) == bulk + 20, 3600, 1.0, "every job finished")
            jobs = rows(settings)
    by_id = {j["id"]: j for j in jobs}
    waits = [secs(by_id[i]["created"], by_id[i]["sent"]) for i in urgent]
    bulk_waits = [secs(j["created"], j["sent"]) for j in jobs if j["bulk"]]
    window = (min(by_id[i]["created"] for i in urgent), max(by_id[i]["sent"] for i in urgent))
    turn = turnover(jobs, *window)
    mean_bulk = sum(bulk_waits) / len(bulk_waits)
    p50, p99 = percentile(waits, 50), percentile(waits, 99)
    return [
        Figure("A1", f"interactive wait p50, {label}", p50, "s", mean_bulk, "bulk mean wait", p50 / mean_bulk),
        Figure("A1", f"interactive wait p99, {label}", p99, "s", mean_bulk, "bulk mean wait", p99 / mean_bulk,
               target=f"<= turnover + 1 s = {turn + 1:.2f} s", met=max(waits) <= turn + 1.0,
               notes=[f"{label}: {bulk} bulk jobs then 20 interactive 0.5 s apart; max interactive wait "
                      f"{max(waits):.2f} s; slot turnover {turn:.3f} s"]),
    ]


def redis_calls(client: redis.Redis) -> int:
    return sum(int(v.get("calls", 0)) for v in client.info("commandstats").values())


def a2_one(backlog: int, cap: int | None, window: float) -> tuple[float, int]:
    """Redis commands per finished job while a backlog of ``backlog`` drains behind ``cap`` for ``window`` s."""
    with workdir("a2") as root:
        stack, settings, broker = admission_stack(root, cap=cap)
        with stack:
            client = redis.Redis.from_url(broker)
            before, done_before = redis_calls(client), finished(settings)
            accept_file(settings, root, backlog)
            started = time.monotonic()
            while time.monotonic() - started < window and finished(settings) < backlog:
                time.sleep(0.5)
            calls, done = redis_calls(client) - before, finished(settings) - done_before
    return calls / max(1, done), done


def a2(sizes: list[int], window: float) -> list[Figure]:
    uncapped, done_u = a2_one(1000, None, window)
    figures = [Figure("A2", "Redis commands/job, backlog 1000, no cap", uncapped, "cmd/job",
                      notes=[f"no cap: {done_u} jobs finished in the window"])]
    capped = []
    for size in sizes:
        per_job, done = a2_one(size, 3, window)
        capped.append(per_job)
        figures.append(Figure("A2", f"Redis commands/job, backlog {size}, cap 3", per_job, "cmd/job", uncapped,
                              "no cap", per_job / uncapped, target="<= 2x no cap", met=per_job <= 2 * uncapped,
                              notes=[f"backlog {size}: {done} jobs finished in the {window:.0f} s window"]))
    spread = max(capped) / min(capped)
    figures.append(Figure("A2", "Redis commands/job, largest / smallest backlog", spread, "x",
                          target="<= 1.2 (flat within 20%)", met=spread <= 1.2))
    return figures


def new_key(settings: Settings, name: str) -> str:
    from shared.apikeys import create_api_key

    with open_session(settings) as s:
        key = create_api_key(s, settings, name)
        s.commit()
        return key.id


def a3(bulk: int) -> list[Figure]:
    cap, small = 4, max(10, bulk // 10)
    with workdir("a3") as root:
        stack, settings, _ = admission_stack(root, cap=cap)
        with stack:
            big_key, small_key = new_key(settings, "big"), new_key(settings, "small")
            accept_file(settings, root, bulk, api_key_id=big_key, tag="big")
            accept_file(settings, root, small, api_key_id=small_key, tag="small")

            def small_done() -> bool:
                with open_session(settings) as s:
                    return not s.scalar(select(func.count()).select_from(Job).where(
                        Job.owner == small_key, Job.finished_at.is_(None)))

            wait_until(small_done, 3600, 1.0, "the small key's jobs finished")
            time.sleep(30)  # the big key alone for a while
            jobs = rows(settings)
    admitted = sorted((j for j in jobs if j["admitted"]), key=lambda j: j["admitted"])
    small_arrived = min(j["created"] for j in jobs if j["owner"] == small_key)
    last_small = max(j["admitted"] for j in jobs if j["owner"] == small_key)
    both = [j for j in admitted if small_arrived <= j["admitted"] <= last_small]
    share = sum(j["owner"] == small_key for j in both) / len(both)
    # After the small key's last admission: slot occupancy (busy slot-seconds / cap x elapsed).
    alone_start = max(j["finished"] for j in jobs if j["owner"] == small_key)
    alone_end = max(j["admitted"] for j in admitted)
    busy = sum(max(0.0, secs(max(j["admitted"], alone_start), min(j["finished"] or alone_end, alone_end)))
               for j in admitted)
    occupancy = busy / (cap * secs(alone_start, alone_end))
    return [
        Figure("A3", "small key's share of admissions while both wait", share * 100, "%", target="50 ± 10 %",
               met=0.4 <= share <= 0.6, notes=[f"keys with {bulk} and {small} bulk jobs behind a cap of {cap}; "
                                               f"{len(both)} admissions while both had work"]),
        Figure("A3", "slot occupancy, big key alone", occupancy * 100, "%", target=">= 90 % (no idle slot)",
               met=occupancy >= 0.9, notes=[f"over {secs(alone_start, alone_end):.1f} s after the small key finished"]),
    ]


def a4(n: int, cap: int = 10, step: float = 0.5) -> list[Figure]:
    with workdir("a4") as root:
        stack, settings, _ = admission_stack(root, cap=cap, step=step, concurrency=4)
        with stack:
            accept_file(settings, root, n)
            wait_until(lambda: finished(settings) == n, 3600, 0.5, "every job finished")
            jobs = rows(settings)
    duration = sum(secs(j["sent"], j["finished"]) for j in jobs) / n
    hold = sum(secs(j["admitted"], j["finished"]) for j in jobs) / n
    wall = secs(min(j["admitted"] for j in jobs), max(j["finished"] for j in jobs))
    ratio, against_hold = wall / (n * duration / cap), wall / (n * hold / cap)
    return [Figure("A4", f"wall / ideal, {n} jobs, cap {cap}", ratio, "x", target="<= 1.10", met=ratio <= 1.10,
                   notes=[f"wall {wall:.1f} s; job duration (submit to finished) {duration:.3f} s; slot hold "
                          f"(admitted to finished) {hold:.3f} s; against the hold time: {against_hold:.3f}"])]


def insert_queued(settings: Settings, n: int, chunk: int = 5000) -> None:
    now = utcnow()
    with open_session(settings) as s:
        for start in range(0, n, chunk):
            s.execute(insert(Job), [{"id": new_id(), "operation": "lyrics", "params": {"prompt": f"q {i}"},
                                     "status": "queued", "attempts": 0, "created_at": now, "updated_at": now,
                                     "polls": 0, "priority": 0, "owner": "local", "queue_group": "a5"}
                                    for i in range(start, min(n, start + chunk))])
        s.commit()


def a5(n: int, seconds: float) -> list[Figure]:
    from shared.admission.views import admission_state

    with workdir("a5") as root:
        stack, settings, _ = admission_stack(root, cap=10, workers=0)
        with stack:
            insert_queued(settings, n)
            worker = stack.start_worker("worker0")
            wait_for_workers(settings, 1)
            with RssSampler(worker.pid) as rss:
                time.sleep(seconds)
            done = finished(settings)
            with open_session(settings) as s:
                step = admission_state(s).get("step_seconds")
    samples = [mb for _, mb in rss.samples]
    peak = max(samples) if samples else float("nan")
    third = max(1, len(samples) // 3)
    early, late = median(samples[third:2 * third] or samples), median(samples[-third:])
    return [Figure("A5", f"worker RSS peak, {n} queued, cap 10", peak, "MB", target="< 200 MB, flat",
                   met=peak < 200 and late <= early * 1.1,
                   notes=[f"median RSS middle third {early:.1f} MB, last third {late:.1f} MB; {done} jobs finished "
                          f"in {seconds:.0f} s; last admission step {step} s with the backlog"])]


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--only", default="A1,A2,A3,A4,A5")
    parser.add_argument("--a1-no-cap-only", action="store_true")
    parser.add_argument("--bulk", type=int, default=2000)
    parser.add_argument("--a2-sizes", default="100,1000,10000")
    parser.add_argument("--a2-window", type=float, default=40.0)
    parser.add_argument("--a4-jobs", type=int, default=200)
    parser.add_argument("--a5-jobs", type=int, default=100_000)
    parser.add_argument("--a5-seconds", type=float, default=60.0)
    parser.add_argument("--a4-step", type=float, default=0.5, help="sandbox step seconds (lyrics take ~2 steps)")
    parser.add_argument("--window", type=int, default=None, help="HOOKLINE_ADMISSION_WINDOW (default: hookline's)")
    args = parse_args(parser)
    global WINDOW
    WINDOW = args.window
    figures: list[Figure] = []
    chosen = {part.strip().upper() for part in args.only.split(",")}
    if "A1" in chosen:
        figures += (a1(args.bulk, 3) if not args.a1_no_cap_only else []) + a1(args.bulk, None)
    if "A2" in chosen:
        figures += a2([int(s) for s in args.a2_sizes.split(",")], args.a2_window)
    if "A3" in chosen:
        figures += a3(args.bulk)
    if "A4" in chosen:
        figures += a4(args.a4_jobs, step=args.a4_step)
    if "A5" in chosen:
        figures += a5(args.a5_jobs, args.a5_seconds)
    report(figures, "bench.a_admission")


def run() -> list[Figure]:
    """For bench.run_all: a CI-friendly size. A part that fails is a row saying so; the others still report."""
    parts: list[tuple[str, Callable[[], list[Figure]]]] = [
        ("A1 cap 3", lambda: a1(600, 3)), ("A1 no cap", lambda: a1(600, None)),
        ("A2", lambda: a2([100, 1000, 10000], 40.0)), ("A3", lambda: a3(600)), ("A4", lambda: a4(200)),
        ("A5", lambda: a5(100_000, 60.0))]
    figures: list[Figure] = []
    for name, part in parts:
        try:
            figures += part()
        except Exception as exc:  # noqa: BLE001 - reported as a failed row, like run_all does
            figures.append(Figure(name.split()[0], f"{name}: benchmark failed", None, "",
                                  notes=[f"{type(exc).__name__}: {exc}"]))
    return figures


if __name__ == "__main__":
    main()

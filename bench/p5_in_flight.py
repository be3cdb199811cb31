"""P5: 100,000 jobs in flight: worker RSS while it idles and handles an overdue slice, and the reconcile sweep time.

    python -m bench.p5_in_flight [--db sqlite|postgres] [--jobs 100000] [--overdue 1000,10000] [--watch 30]

100,000 ``submitted`` music jobs are bulk-INSERTed (SQLite, the default database): ``--overdue`` of them with
``next_check_at`` a minute ago and a real task on the sandbox (submitted there beforehand, already COMPLETE, as if
their callbacks had been lost), the rest an hour ahead. One ``hookline worker`` (defaults) on Redis, no beat: the
sweeps are sent by hand so each one is known. The worker runs:

1. idle, with 100,000 jobs in flight (RSS sampled from here on);
2. for each overdue slice (1,000, then 10,000): one sweep, which claims the slice in one UPDATE … RETURNING and
   hands its fetches out as ``hookline.fetch_batch`` tasks (50 ids each); its runtime (the dispatch time) is the
   worker's own log line for the task; "time to done" runs from sending the sweep until every job of the slice has
   succeeded (the batch tasks fetched and applied them);
3. the follow-ups of that slice (artifact downloads, ...) for ``--watch`` seconds (RSS sampled);
before 2., four sweeps with nothing overdue (the cost of looking at 100,000 in-flight rows through the
(status, next_check_at) index).
"""

from __future__ import annotations

import re
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any, Self

import redis
import requests
from sqlalchemy import func, select

from bench.harness import (
    SONG,
    Figure,
    bench_parser,
    bench_stack,
    child_pids,
    finish_profiles,
    hot_frames,
    insert_in_flight_jobs,
    make_env,
    parse_args,
    profile_pids,
    queued_on_redis,
    report,
    rss_mb,
    start_redis,
    start_sandbox,
    workdir,
)
from shared.cli.stack import free_port, wait_until
from shared.db import open_session
from shared.models import Job

SWEEP_RUNTIME = re.compile(r"Task hookline\.reconcile\[[^\]]+\] succeeded in ([0-9.]+)s")
RSS_LIMIT_MB = 200.0
SWEEP_BEFORE = {1000: 3.35}  # main before issue 16 (bench/RESULTS.md, 2026-11-21): one sweep fetched everything itself


def submit_upstream_tasks(sandbox_url: str, count: int, threads: int = 8) -> list[str]:
    """Real tasks on the sandbox (no notify_hook): what the overdue jobs were waiting for."""
    ids: list[str] = []
    lock = threading.Lock()

    def submit_some(n: int) -> None:
        with requests.Session() as http:
            for _ in range(n):
                task_id = http.post(f"{sandbox_url}/suno/submit/music", json=SONG, timeout=30).json()["data"]
                with lock:
                    ids.append(task_id)

    workers = [threading.Thread(target=submit_some, args=(count // threads + (i < count % threads),))
               for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return ids


class RssSampler:
    """Samples the RSS (MiB) of a process tree every ``interval`` seconds in a thread, tagged by phase."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[str, float]] = []
        self.phase = "idle"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((self.phase, sum(rss_mb(p) for p in child_pids(self.pid))))
            self._stop.wait(self.interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def of(self, phase: str) -> list[float]:
        return [mb for p, mb in self.samples if p == phase]


def sweep_runtimes(log: Path) -> list[float]:
    return [float(m.group(1)) for m in SWEEP_RUNTIME.finditer(log.read_text(errors="replace"))]


def run_sweep(sender: Any, log: Path, timeout: float = 300) -> float:
    before = len(sweep_runtimes(log))
    sender.send_task("hookline.reconcile")
    wait_until(lambda: len(sweep_runtimes(log)) > before, timeout, 0.05, "sweep finished")
    return sweep_runtimes(log)[-1]


def run(jobs: int = 100_000, overdue: tuple[int, ...] = (1000, 10_000), watch: float = 30.0, profile: bool = False,
        keep: bool = False) -> list[Figure]:
    from shared.tasks import sender as _sender

    with workdir("p5", keep) as root:
        sandbox_port = free_port()
        env = make_env(root, receiver_port=free_port(), sandbox_port=sandbox_port)
        stack = bench_stack(env)
        try:
            broker = start_redis(stack)
            env.env["HOOKLINE_BROKER_URL"] = broker
            settings = env.settings
            start_sandbox(stack, sandbox_port, ["--step-seconds", "0.01", "--clip-seconds", "4"])
            started = time.monotonic()
            real = submit_upstream_tasks(f"http://127.0.0.1:{sandbox_port}", sum(overdue))
            fake = [f"inflight-{n:07d}" for n in range(jobs - len(real))]
            insert_in_flight_jobs(settings, fake + real)  # all an hour ahead; the slices are made overdue later
            setup = time.monotonic() - started
            with open_session(settings) as session:
                in_flight = int(session.scalar(select(func.count()).select_from(Job)
                                               .where(Job.status == "submitted")) or 0)
            worker = stack.start_worker("worker0")
            log = env.log_dir / "worker0.log"
            sender = _sender(settings)
            queue = redis.Redis.from_url(broker)
            profiles = []
            first = run_sweep(sender, log, timeout=120)  # nothing overdue; and now the worker is up
            sweeps: dict[int, tuple[float, float]] = {}  # overdue -> (sweep runtime, time until all succeeded)
            notes_drain: list[str] = []
            with RssSampler(worker.pid) as rss:
                idle_sweeps = [first]
                for _ in range(3):
                    time.sleep(1.5)
                    idle_sweeps.append(run_sweep(sender, log))
                time.sleep(1.5)
                start = 0

                def queued() -> int:  # follow-ups waiting: the pipeline's queue and the files' queue
                    return queued_on_redis(queue)

                for size in overdue:
                    # Each slice starts on an empty queue: its time to done is its own, not the last slice's tail.
                    drained = time.monotonic()
                    wait_until(lambda: not queued(), 900, 0.5, "follow-ups of the last slice drained")
                    if start:
                        notes_drain.append(f"follow-ups of the {start} before drained in "
                                           f"{time.monotonic() - drained:.0f}s more")
                    piece = real[start:start + size]
                    start += size
                    make_overdue(settings, piece)
                    rss.phase = "sweep"
                    if profile and size == overdue[0]:
                        profiles = profile_pids([worker.pid], 10, root / "profiles", "p5")
                    began = time.monotonic()
                    runtime = run_sweep(sender, log)
                    wait_until(lambda piece=piece: count_succeeded(settings, piece) >= len(piece), 600, 0.2,
                               f"{size} overdue jobs succeeded")
                    sweeps[size] = (runtime, time.monotonic() - began)
                    rss.phase = "follow-ups"
                    with suppress(TimeoutError):  # what is left after `watch` seconds is the figure
                        wait_until(lambda: not queued(), watch, 0.5, "follow-up queue drained")
                backlog = queued()
            finish_profiles(profiles)
            notes = [f"setup: {sum(overdue)} upstream tasks + {jobs:,} rows inserted in {setup:.1f}s; "
                     f"{in_flight:,} in flight; one worker (hookline worker defaults), no beat: sweeps sent by hand",
                     *(f"sweep with {size} overdue: claimed and dispatched in {runtime:.2f}s (the reconcile task's "
                       f"runtime in the worker), all {size} succeeded {done:.1f}s after the sweep was sent"
                       for size, (runtime, done) in sweeps.items()),
                     "sweeps with nothing overdue (100k in flight): "
                     + ", ".join(f"{1000 * s:.0f} ms" for s in idle_sweeps),
                     *notes_drain,
                     f"follow-ups left on the queue after {watch:.0f}s of watching: {backlog}"]
            phases = ["idle", "sweep", "follow-ups"]
            notes.append("worker RSS MiB (min/max) " + "; ".join(
                f"{p}: {min(rss.of(p)):.0f}/{max(rss.of(p)):.0f}" for p in phases if rss.of(p)))
            if profiles:
                raw = sorted((root / "profiles").glob("p5-*.txt"))
                notes += [f"profile (worker, sweep): {i:5.1f}% incl, {s:4.1f}% self  {f}"
                          for f, i, s in hot_frames(raw, 25, (".py:",))]
            peak = max(mb for _, mb in rss.samples)
            idle = rss.of("idle")
            flat = peak - min(idle) if idle else None
        finally:
            stack.stop()
    figures = []
    for n, (size, (runtime, done)) in enumerate(sweeps.items()):
        figures.append(Figure("P5", f"one sweep's dispatch, {size:,} of {jobs:,} in flight overdue", runtime, "s",
                              SWEEP_BEFORE.get(size), "main, one sweep, s" if size in SWEEP_BEFORE else "",
                              SWEEP_BEFORE[size] / runtime if size in SWEEP_BEFORE and runtime else None,
                              "<= 1 s", runtime <= 1.0, notes if n == 0 else []))
        figures.append(Figure("P5", f"time to done, {size:,} overdue (sweep sent -> all succeeded)", done, "s"))
    return [
        *figures,
        Figure("P5", "worker RSS peak (idle, sweep, follow-ups)", peak, "MiB", min(idle) if idle else None,
               "idle RSS, MiB", None, f"< {RSS_LIMIT_MB:.0f} MiB, flat", peak < RSS_LIMIT_MB,
               [f"growth over idle: {flat:.0f} MiB" if flat is not None else ""]),
        Figure("P5", "one reconcile sweep, nothing overdue, 100k in flight", max(idle_sweeps), "s", None, "", None,
               "<= 1 s", max(idle_sweeps) <= 1.0),
    ]


def count_succeeded(settings: Any, task_ids: list[str]) -> int:
    total = 0
    with open_session(settings) as session:
        for start in range(0, len(task_ids), 500):
            total += int(session.scalar(select(func.count()).select_from(Job).where(
                Job.upstream_task_id.in_(task_ids[start:start + 500]), Job.status == "succeeded")) or 0)
    return total


def make_overdue(settings: Any, task_ids: list[str]) -> None:
    """The slice's callbacks are now a minute late."""
    from datetime import timedelta

    from sqlalchemy import update

    from shared.models import utcnow

    with open_session(settings) as session:
        session.execute(update(Job).where(Job.upstream_task_id.in_(task_ids)).values(
            next_check_at=utcnow() - timedelta(seconds=60)))
        session.commit()


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--overdue", default="1000,10000", help="comma-separated sizes of the overdue slices")
    parser.add_argument("--watch", type=float, default=30.0, help="seconds to watch the follow-ups")
    args = parse_args(parser)
    sizes = tuple(int(n) for n in args.overdue.split(","))
    figures = run(args.jobs, sizes, args.watch, args.profile, args.keep)
    report(figures, "bench.p5_in_flight")


if __name__ == "__main__":
    main()

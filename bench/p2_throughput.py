"""P2: bulk jobs/s end to end on Redis (enqueue -> submit -> callback -> succeeded), against no-op Celery tasks/s
on the same broker and worker settings.

    python -m bench.p2_throughput [--jobs 400] [--noop-tasks 3000] [--profile]

Real processes on loopback: the sandbox at zero latency (``--step-seconds 0.05``, so a task's three callbacks
come 50 ms apart), the receiver under gunicorn (the deploy command), one ``hookline worker`` (its defaults: 2
threads) and beat. The clock starts before the jobs are written (one transaction, as a bulk producer does) and
stops when the last job is done: succeeded, every file stored, its follow-ups ended (when a user has the song),
polled every 100 ms. Follow-ups (artifact downloads, pipeline advance, events) run on the same worker meanwhile.
CPU a job: user + system time of the receiver (gunicorn master and workers), the worker and beat over the run,
divided by the jobs (the sandbox and the database server are not counted).

The baseline is a Celery app identical to hookline's (``create_celery``: same broker options, queue, prefetch)
plus one task that only counts itself (one Redis INCR), run by the same worker command.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
from sqlalchemy import func, select

from bench.harness import (
    SONG,
    Figure,
    bench_parser,
    bench_stack,
    child_pids,
    cpu_seconds,
    current_db,
    finish_profiles,
    hot_frames,
    make_env,
    parse_args,
    profile_pids,
    report,
    start_gunicorn,
    start_redis,
    start_sandbox,
    workdir,
)
from shared.cli.stack import Stack, free_port, wait_until
from shared.db import open_session
from shared.models import Artifact, Job
from shared.tasks import WORKER_QUEUES

if TYPE_CHECKING:
    from celery import Celery

COUNTER_KEY = "bench:noop:done"
# main at 1cd30f4, this script (done = files stored), 400 jobs: CPU ms a job and jobs/s done, by database
# (bench/RESULTS.md, issue 16 section; measured 2026-11-30 02:53-02:57 UTC)
CPU_BEFORE_MS = {"sqlite": 51.0, "postgres": 66.7}
DONE_BEFORE = {"sqlite": "5.02/s done, ratio 0.012 (no-op 416.5/s)",
               "postgres": "2.83/s done, ratio 0.0027 (no-op 1,060/s)"}
WORKER_ARGS = ["worker", "-Q", WORKER_QUEUES, "-c", "2", "-P", "threads", "-l", "INFO", "--without-gossip",
               "--without-mingle"]  # what `hookline worker` passes (its defaults: 2 threads)
SANDBOX_ARGS = ["--step-seconds", "0.05", "--clip-seconds", "4", "--latency", "0"]


# ---------------------------------------------------------------- the no-op baseline app


@lru_cache(maxsize=1)
def _noop_celery() -> Celery:
    import os

    from worker.celery_app import create_celery

    app = create_celery()
    counter = redis.Redis.from_url(os.environ["BENCH_COUNTER_URL"])

    @app.task(name="bench.noop", ignore_result=True)
    def noop() -> None:
        counter.incr(COUNTER_KEY)

    return app


def __getattr__(name: str) -> Any:  # `celery -A bench.p2_throughput:noop_celery` builds it in the worker only
    if name == "noop_celery":
        return _noop_celery()
    raise AttributeError(name)


def noop_tasks_per_second(stack: Stack, settings: Any, counter_url: str, tasks: int) -> tuple[float, str]:
    """Start the no-op worker, send ``tasks`` no-op messages the way hookline enqueues, time until all ran."""
    from shared.tasks import sender as _sender

    counter = redis.Redis.from_url(counter_url)
    counter.delete(COUNTER_KEY)
    stack.env["BENCH_COUNTER_URL"] = counter_url
    stack._spawn("noop-worker", [sys.executable, "-m", "celery", "-A", "bench.p2_throughput:noop_celery",
                                        *WORKER_ARGS, "-n", "noop@%h"])
    sender = _sender(settings)
    sender.send_task("bench.noop")  # the worker is up when this one has run
    wait_until(lambda: int(counter.get(COUNTER_KEY) or 0) >= 1, 60, 0.1, "no-op worker ready")
    counter.delete(COUNTER_KEY)
    started = time.monotonic()
    for _ in range(tasks):
        sender.send_task("bench.noop")
    sent = time.monotonic() - started
    wait_until(lambda: int(counter.get(COUNTER_KEY) or 0) >= tasks, 300, 0.02, "no-op tasks done")
    done = time.monotonic()
    stack.kill("noop-worker", sig=15)
    return tasks / (done - started), f"{tasks} no-op tasks: sent in {sent:.2f}s, all ran after {done - started:.2f}s"


# ---------------------------------------------------------------- hookline end to end


@dataclass
class EndToEnd:
    jobs: int
    seconds: float
    per_second: float
    notes: list[str] = field(default_factory=list)
    profile: list[tuple[str, float, float]] = field(default_factory=list)
    cpu_ms: float | None = None  # CPU a job across receiver, worker and beat


def enqueue_bulk(settings: Any, count: int) -> list[str]:
    """The bulk producer path: every job in one transaction, committed, then enqueued."""
    from shared.producer import add_job, enqueue_jobs

    with open_session(settings) as session:
        jobs = [add_job(session, settings, "music", {**SONG, "title": f"Bulk {n}"}) for n in range(count)]
        session.commit()
        ids = [job.id for job in jobs]
    enqueue_jobs(settings, ids)
    return ids


def _succeeded(settings: Any) -> int:
    """All succeeded jobs in the database (the warm-up ones included)."""
    with open_session(settings) as session:
        return int(session.scalar(select(func.count()).select_from(Job).where(Job.status == "succeeded")) or 0)


def _done(settings: Any) -> int:
    """Jobs a user has the song of: succeeded, with files, none of them still pending, and their follow-ups seen to
    the end (``follow_ups_done`` cleared the check, which it does only when no file is pending)."""
    from sqlalchemy import exists

    stored = exists().where(Artifact.job_id == Job.id, Artifact.status == "stored")
    pending = exists().where(Artifact.job_id == Job.id, Artifact.status == "pending")
    with open_session(settings) as session:
        return int(session.scalar(select(func.count()).select_from(Job).where(
            Job.status == "succeeded", Job.next_check_at.is_(None), stored, ~pending)) or 0)


def _cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes and their children still alive."""
    return sum(cpu_seconds(pid) for root in pids for pid in child_pids(root))


def run_end_to_end(root: Path, *, broker: str, jobs: int, profile: bool = False,
                   counter_url: str | None = None, noop_tasks: int = 0) -> tuple[EndToEnd, tuple[float, str] | None]:
    """One stack on ``broker`` ("redis" or "embedded"): optionally the no-op baseline first, then ``jobs`` jobs."""
    sandbox_port, receiver_port = free_port(), free_port()
    env = make_env(root, receiver_port=receiver_port, sandbox_port=sandbox_port)
    stack = bench_stack(env)
    baseline = None
    try:
        if broker == "redis":
            env.env["HOOKLINE_BROKER_URL"] = start_redis(stack)
        counter_url = counter_url or (env.env.get("HOOKLINE_BROKER_URL") if broker == "redis" else None)
        if counter_url is None and noop_tasks:
            counter_url = start_redis(stack, "counter-redis").replace("/0", "/1")
        settings = env.settings
        if noop_tasks:
            assert counter_url is not None
            baseline = noop_tasks_per_second(stack, settings, counter_url, noop_tasks)
        start_sandbox(stack, sandbox_port, SANDBOX_ARGS)
        start_gunicorn(stack, "receiver", "webhook.wsgi:app", receiver_port)
        worker = stack.start_worker("worker0")
        beat = stack._spawn("beat", [sys.executable, "-m", "shared.cli", "beat"])
        warm = enqueue_bulk(settings, 5)  # worker up, connections open, imports done
        wait_until(lambda: _done(settings) >= len(warm), 120, 0.1, "warm-up jobs done")
        hookline_pids = [stack.procs["receiver"].pid, worker.pid, beat.pid]  # not the sandbox, not the database
        profiles: list[subprocess.Popen[bytes]] = []
        started_wall = datetime.now(UTC)
        cpu_before = _cpu(hookline_pids)
        roles_before = [_cpu([pid]) for pid in hookline_pids]
        started = time.monotonic()
        enqueue_bulk(settings, jobs)
        enqueued = time.monotonic() - started
        if profile:  # the whole run, submits to the last file: stopped (SIGINT: py-spy writes its file) when done
            pids = [worker.pid, *child_pids(stack.procs["receiver"].pid)[1:]]
            profiles = profile_pids(pids, 900, root / "profiles", "e2e")
        wait_until(lambda: _done(settings) >= jobs + len(warm), 600, 0.1, f"{jobs} jobs done (files stored)")
        seconds = time.monotonic() - started
        cpu_ms = 1000 * (_cpu(hookline_pids) - cpu_before) / jobs
        by_role = [1000 * (_cpu([pid]) - before) / jobs
                   for pid, before in zip(hookline_pids, roles_before, strict=True)]
        for spy in profiles:
            spy.send_signal(signal.SIGINT)
        finish_profiles(profiles)
        with open_session(settings) as session:
            last = session.scalar(select(func.max(Job.finished_at)))
            artifacts = int(session.scalar(select(func.count()).select_from(Artifact)
                                           .where(Artifact.status == "stored")) or 0)
            stored_bytes = int(session.scalar(select(func.sum(Artifact.size))) or 0)
        assert last is not None
        succeeded = (last - started_wall).total_seconds()
        result = EndToEnd(jobs, seconds, jobs / seconds, cpu_ms=cpu_ms)
        result.notes.append(f"{jobs} jobs on {broker}: written+enqueued in {enqueued:.2f}s, last succeeded after "
                            f"{succeeded:.2f}s ({jobs / succeeded:.1f}/s), all done (every file stored, follow-ups "
                            f"ended) after {seconds:.2f}s; {artifacts} artifacts stored, "
                            f"{stored_bytes / max(1, jobs + len(warm)) / 1024:.0f} KiB a job")
        result.notes.append(f"CPU {cpu_ms:.1f} ms a job: receiver (gunicorn master + workers) {by_role[0]:.1f}, "
                            f"worker {by_role[1]:.1f}, beat {by_role[2]:.1f}; not the sandbox or the database server")
        if profiles:
            raw = sorted((root / "profiles").glob("e2e-*.txt"))
            worker_raw = [p for p in raw if p.name == f"e2e-{worker.pid}.txt"]
            ours = ("(shared/", "(worker/", "(webhook/")  # hookline's own frames: where its time goes
            result.profile = hot_frames(worker_raw, top=25, include=ours)
            receiver_raw = [p for p in raw if p not in worker_raw]
            result.profile += [("(receiver) " + f, i, s) for f, i, s in hot_frames(receiver_raw, 10, ours)]
    finally:
        stack.stop()
    return result, baseline


def run(jobs: int = 400, noop_tasks: int = 3000, profile: bool = False, keep: bool = False) -> list[Figure]:
    with workdir("p2", keep) as root:
        result, baseline = run_end_to_end(root, broker="redis", jobs=jobs, profile=profile, noop_tasks=noop_tasks)
    assert baseline is not None
    noop_rate, noop_note = baseline
    ratio = result.per_second / noop_rate
    notes = [noop_note, *result.notes]
    notes += [f"profile: {i:5.1f}% incl, {s:4.1f}% self  {f}" for f, i, s in result.profile]
    cpu, before = result.cpu_ms, CPU_BEFORE_MS[current_db()]
    notes.append(f"main before issue 16 on {current_db()}: {DONE_BEFORE[current_db()]}, CPU {before} ms a job")
    return [Figure("P2", "jobs/s done (files stored), Redis, 1 worker x 2 threads", result.per_second, "/s",
                   noop_rate, "no-op Celery tasks/s", ratio, "ratio >= 0.33", ratio >= 0.33, notes),
            Figure("P2", "CPU a job: receiver + worker + beat", cpu, "ms", before, "main before issue 16, ms",
                   before / cpu if cpu else None, "< 10 ms", cpu is not None and cpu < 10)]


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--noop-tasks", type=int, default=3000)
    args = parse_args(parser)
    figures = run(args.jobs, args.noop_tasks, args.profile, args.keep)
    report(figures, "bench.p2_throughput")


if __name__ == "__main__":
    main()

"""The chaos run: many jobs (and pipelines) through faulty callbacks, a flaky upstream and crashing processes.

    python -m bench.chaos                 # the full run: 2,000 jobs + 50 pipelines, Redis, kills and restarts
    python -m bench.chaos --jobs 200 --pipelines 10 --no-redis-restart   # CI-sized
    python -m bench.chaos --max-in-flight 20 --owners 2      # behind a cap, two API keys sharing it

Prints: jobs by terminal state vs expected, lost jobs (must be 0), upstream submits per job, duplicate paid
submits (must be 0 unaccounted), and wall time. tests/e2e/test_chaos.py runs the CI-sized version.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select

from shared import db
from shared.cli.stack import Stack, free_port, wait_until
from shared.config import load_settings
from shared.db import open_session, session_factory
from shared.models import Attempt, Job
from shared.producer import add_job, enqueue_jobs
from shared.states import AttemptOutcome

FAULTS = {"drop_callbacks": 0.3, "duplicate_callbacks": 0.2, "delay_callbacks": 0.05, "reorder_callbacks": 0.05,
          "delay_seconds": 2.0, "error_rate": 0.05,
          # The transient errors only: a 503 ("no available channel for this model") fails a job at once by design
          # (never retried; tests/unit/test_upstream_fidelity.py), so it has no place in a run that expects success.
          "error_codes": [429, 500, 504, 524]}
SONG = {"prompt": "[Verse]\nstorm", "tags": "chaos", "title": "Chaos", "mv": "chirp-v4"}
PIPELINE = {"name": "chaos", "steps": {
    "base": {"op": "music", "params": {**SONG, "title": "Base"}},
    "wav": {"op": "wav", "from": "base", "pick": "longest"},
}}
TERMINAL = ("succeeded", "failed", "canceled")
# An attempt that ended in one of these may have been accepted without our learning it at once: a second paid
# submit of its job is accounted for.
MAYBE_CHARGED_TWICE = (AttemptOutcome.AMBIGUOUS, AttemptOutcome.LATE_ORPHAN, AttemptOutcome.RECOVERED)


@dataclass
class ChaosSummary:
    jobs: int
    pipelines: int
    by_state: dict[str, int]
    expected: dict[str, int]
    lost: int
    submits_per_job: dict[int, int]
    duplicate_paid_submits: int
    unaccounted_duplicates: int
    pipelines_by_state: dict[str, int] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    cap: int | None = None
    peak_in_flight: int = 0  # most jobs admitted and unfinished at one moment, from the rows
    leaked_slots: int = 0  # jobs still admitted and unfinished at the end (a slot nobody will free)
    by_owner: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        within_cap = self.cap is None or self.peak_in_flight <= self.cap
        return (self.lost == 0 and self.unaccounted_duplicates == 0 and self.by_state == self.expected
                and self.leaked_slots == 0 and within_cap)

    def render(self) -> str:
        lines = [
            f"chaos run: {self.jobs} jobs + {self.pipelines} pipelines in {self.wall_seconds:.1f}s",
            f"  jobs by terminal state: {self.by_state}   expected: {self.expected}",
            f"  pipelines by state:     {self.pipelines_by_state}",
            f"  lost jobs:              {self.lost}",
            f"  upstream submits/job:   {dict(sorted(self.submits_per_job.items()))}",
            f"  duplicate paid submits: {self.duplicate_paid_submits} (unaccounted: {self.unaccounted_duplicates})",
            f"  in flight (rows):       peak {self.peak_in_flight} (cap {self.cap or 'none'}), "
            f"left holding a slot {self.leaked_slots}",
            f"  jobs by owner:          {self.by_owner}",
            f"  events:                 {', '.join(self.events) or 'none'}",
            f"  verdict:                {'PASS' if self.ok else 'FAIL'}",
        ]
        return "\n".join(lines)


def create_jobs(settings: Any, count: int, owners: int = 1) -> list[str]:
    """``count`` music jobs, spread round-robin over ``owners`` API keys (one owner: no key, "local")."""
    from shared.apikeys import create_api_key

    ids: list[str] = []
    Session = session_factory(settings)
    keys: list[str | None] = [None]
    if owners > 1:
        with Session() as session:
            keys = [create_api_key(session, settings, f"chaos-owner-{n}").id for n in range(owners)]
            session.commit()
    for start in range(0, count, 200):
        with Session() as session:
            batch = [add_job(session, settings, "music", {**SONG, "title": f"Chaos {n}"},
                             api_key_id=keys[n % len(keys)], priority="bulk")
                     for n in range(start, min(count, start + 200))]
            session.commit()
            ids.extend(j.id for j in batch)
        enqueue_jobs(settings, [j.id for j in batch])
    return ids


def create_pipelines(settings: Any, count: int) -> list[str]:
    try:
        from shared.pipelines import create_pipeline
    except ImportError:
        return []
    return [create_pipeline(settings, PIPELINE, name=f"chaos-{n}") for n in range(count)]


def wait_terminal(settings: Any, timeout: float) -> int:
    """Until every job and every pipeline is finished (or the timeout): returns how many are still open."""
    from shared.models import Pipeline

    Session = session_factory(settings)

    def still_open() -> int:
        with Session() as session:
            open_jobs = session.scalar(select(func.count()).select_from(Job).where(Job.status.notin_(TERMINAL)))
            open_pipelines = session.scalar(
                select(func.count()).select_from(Pipeline).where(Pipeline.status.notin_(TERMINAL)))
        return int(open_jobs or 0) + int(open_pipelines or 0)

    try:
        wait_until(lambda: still_open() == 0, timeout, 1.0, "every job and pipeline finished")
    except TimeoutError:
        return still_open()
    return 0


def submits_by_job(sandbox_url: str) -> Counter[str]:
    """Paid submits the upstream really received, by job (its notify_hook names the job)."""
    log = requests.get(f"{sandbox_url}/_sandbox/requests", timeout=60).json()
    seen: Counter[str] = Counter()
    for entry in log:
        hook = (entry.get("json") or {}).get("notify_hook") or ""
        accepted = 200 <= int(entry.get("status") or 0) < 300  # a refused (429/5xx) request was not paid for
        if entry["method"] == "POST" and entry["path"].startswith("/suno/submit") and "/hooks/cometapi/" in hook \
                and accepted:
            seen[hook.split("/hooks/cometapi/")[1].split("/")[0]] += 1
    return seen


def most_at_once(spans: list[tuple[Any, Any]]) -> int:
    """The largest number of [start, end) spans open at one moment (an end of None: still open)."""
    far = max((t for span in spans for t in span if t is not None), default=None)
    edges = sorted([(start, 1) for start, _ in spans] + [(end or far, -1) for _, end in spans])
    open_now = peak = 0
    for _, step in edges:
        open_now += step
        peak = max(peak, open_now)
    return peak


def summarize(settings: Any, sandbox_url: str, job_ids: list[str], pipeline_ids: list[str]) -> ChaosSummary:
    received = submits_by_job(sandbox_url)
    with open_session(settings) as session:
        states = Counter(session.scalars(select(Job.status)))
        spans = [(a, f) for a, f in session.execute(select(Job.admitted_at, Job.finished_at)
                                                      .where(Job.admitted_at.is_not(None)))]
        by_owner = Counter(session.scalars(select(Job.owner)))
        flagged = Counter(session.scalars(select(Attempt.job_id).where(Attempt.possible_duplicate.is_(True))))
        ambiguous = Counter(session.scalars(select(Attempt.job_id).where(
            Attempt.outcome.in_([o.value for o in MAYBE_CHARGED_TWICE]))))
        pipeline_states: Counter[str] = Counter()
        if pipeline_ids:
            from shared.models import Pipeline

            pipeline_states = Counter(session.scalars(select(Pipeline.status)))
    duplicates = {job: n - 1 for job, n in received.items() if n > 1}
    unaccounted = sum(n for job, n in duplicates.items() if not (flagged[job] or ambiguous[job]))
    all_jobs = sum(states.values())
    return ChaosSummary(
        jobs=len(job_ids), pipelines=len(pipeline_ids),
        by_state=dict(states), expected={"succeeded": all_jobs},
        lost=sum(n for s, n in states.items() if s not in TERMINAL) + sum(
            n for s, n in pipeline_states.items() if s not in TERMINAL),
        submits_per_job=dict(Counter(received.get(j, 0) for j in job_ids)),
        duplicate_paid_submits=sum(duplicates.values()), unaccounted_duplicates=unaccounted,
        pipelines_by_state=dict(pipeline_states), cap=settings.max_in_flight, peak_in_flight=most_at_once(spans),
        leaked_slots=sum(1 for _, finished in spans if finished is None), by_owner=dict(by_owner),
    )


def run_chaos(*, jobs: int, pipelines: int, broker_url: str | None, var_dir: Path, kill_every: float | None,
              restart_receiver: bool, restart_redis: Any = None, workers: int = 2, timeout: float = 600,
              faults: dict[str, Any] | None = None, max_in_flight: int | None = None, owners: int = 1) -> ChaosSummary:
    receiver_port, sandbox_port = free_port(), free_port()
    env = {
        "HOOKLINE_VAR_DIR": str(var_dir), "HOOKLINE_PUBLIC_URL": f"http://127.0.0.1:{receiver_port}",
        "COMETAPI_BASE_URL": f"http://127.0.0.1:{sandbox_port}", "HOOKLINE_RECONCILE_INTERVAL": "1",
        "HOOKLINE_CALLBACK_GRACE": "3", "HOOKLINE_QUEUED_GRACE": "10", "HOOKLINE_AMBIGUOUS_GRACE": "5",
        "HOOKLINE_RETRY_BASE": "0.5", "HOOKLINE_SUBMIT_MAX_RETRIES": "8", "HOOKLINE_HOOK_RATE_PER_SOURCE": "100000",
        "HOOKLINE_LOG_LEVEL": "WARNING", "HOOKLINE_HOOK_SECRET": "chaos-" + os.urandom(8).hex(),
    }
    if broker_url:
        env["HOOKLINE_BROKER_URL"] = broker_url
    if max_in_flight:
        env["HOOKLINE_MAX_IN_FLIGHT"] = str(max_in_flight)
    settings = load_settings(env)
    db.upgrade(settings)
    sandbox_args = ["--step-seconds", "0.3", "--clip-seconds", "3", "--faults", json.dumps(faults or FAULTS),
                    "--seed", "7"]
    stack = Stack(env=env, log_dir=var_dir / "logs", sandbox_port=sandbox_port, receiver_port=receiver_port,
                  sandbox_args=sandbox_args, workers=workers, worker_concurrency=4)
    events: list[str] = []
    started = time.monotonic()
    with stack:
        job_ids = create_jobs(settings, jobs, owners)
        pipeline_ids = create_pipelines(settings, pipelines)
        stop = threading.Event()

        def saboteur() -> None:
            n = 0
            while kill_every and not stop.wait(kill_every):
                name = f"worker{n % workers}"
                stack.restart(name)
                events.append(f"SIGKILL {name} @{time.monotonic() - started:.0f}s")
                n += 1

        thread = threading.Thread(target=saboteur, daemon=True)
        thread.start()
        if restart_receiver:
            time.sleep(3)
            stack.restart("receiver")
            events.append(f"receiver restarted @{time.monotonic() - started:.0f}s")
        if restart_redis is not None:
            time.sleep(3)
            restart_redis()
            events.append(f"redis restarted @{time.monotonic() - started:.0f}s")
        wait_terminal(settings, timeout)
        stop.set()
        thread.join(timeout=60)
        summary = summarize(settings, stack.sandbox_url or "", job_ids, pipeline_ids)
    summary.events = events
    summary.wall_seconds = time.monotonic() - started
    return summary


def _redis_with_persistence(workdir: Path) -> tuple[str, Any, Any]:
    port = free_port()
    args = ["redis-server", "--port", str(port), "--dir", str(workdir), "--appendonly", "yes", "--save", ""]
    proc = {"p": subprocess.Popen(args, stdout=subprocess.DEVNULL)}
    time.sleep(0.5)

    def restart() -> None:
        proc["p"].terminate()
        proc["p"].wait()
        proc["p"] = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        time.sleep(0.5)

    def stop() -> None:
        proc["p"].terminate()
        proc["p"].wait()

    return f"redis://127.0.0.1:{port}/0", restart, stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--pipelines", type=int, default=50)
    parser.add_argument("--kill-every", type=float, default=20.0)
    parser.add_argument("--embedded", action="store_true", help="embedded broker instead of Redis")
    parser.add_argument("--no-redis-restart", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-in-flight", type=int, default=None, help="HOOKLINE_MAX_IN_FLIGHT for the run")
    parser.add_argument("--owners", type=int, default=1, help="spread the jobs over this many API keys")
    args = parser.parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="hookline-chaos-"))
    stop_redis = None
    broker_url, restart = None, None
    if not args.embedded:
        if not shutil.which("redis-server"):
            sys.exit("redis-server is needed for the full run (or pass --embedded)")
        broker_url, restart, stop_redis = _redis_with_persistence(var_dir)
    try:
        summary = run_chaos(jobs=args.jobs, pipelines=args.pipelines, broker_url=broker_url, var_dir=var_dir,
                            kill_every=args.kill_every, restart_receiver=True,
                            restart_redis=None if args.no_redis_restart else restart, workers=args.workers,
                            timeout=1800, max_in_flight=args.max_in_flight, owners=args.owners)
    finally:
        if stop_redis:
            stop_redis()
    print(summary.render())
    sys.exit(0 if summary.ok else 1)


if __name__ == "__main__":
    main()

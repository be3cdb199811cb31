"""P3 / P3b / P3c: upstream calls per succeeded job at 60 s generation time, against the seeds' example client.

    python -m bench.p3_upstream_calls [--jobs 200] [--clients 50] [--step-seconds 20]

Not scaled: the sandboxes run ``--step-seconds 20`` (NOT_START -> IN_PROGRESS -> STREAMING -> COMPLETE, so a song
takes 60 s, as stated for P3), and hookline runs with its default timings (callback grace 60 s, reconcile every
15 s). Everything runs at once, each against its own sandbox so its calls can be counted apart from the others
(``GET /_sandbox/requests``; media downloads are not API calls and are not logged there):

- P3:  hookline, callbacks healthy.
- P3b: hookline, the sandbox drops 100% of callbacks (``--faults '{"drop_callbacks": 1.0}'``): the reconciler's
       batched ``POST /suno/fetch`` is the only way jobs finish.
- P3c: hookline with no public URL (polling mode, no notify_hook sent): for context.
- baseline: ``--clients`` copies of the seed's example client (bench/seed_client.py) at once.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from sqlalchemy import select

from bench.harness import (
    Figure,
    bench_parser,
    make_env,
    median,
    parse_args,
    percentile,
    report,
    sandbox_requests,
    sandbox_task,
    start_redis,
    upstream_calls,
    workdir,
)
from bench.p2_throughput import enqueue_bulk
from bench.seed_client import ClientRun, run_clients
from shared.cli.stack import Stack, free_port, wait_until
from shared.db import open_session
from shared.models import Job

VARIANTS = {  # name -> (sandbox faults, public URL)
    "P3": ({}, True),
    "P3b": ({"drop_callbacks": 1.0}, True),
    "P3c": ({}, False),
}


def _finished(settings: Any) -> list[Job]:
    with open_session(settings) as session:
        return list(session.scalars(select(Job).where(Job.status.in_(["succeeded", "failed", "canceled"]))))


def run(jobs: int = 200, clients: int = 50, step_seconds: float = 20.0, keep: bool = False) -> list[Figure]:
    generation = 3 * step_seconds
    sandbox_args = ["--step-seconds", f"{step_seconds:g}", "--clip-seconds", "4", "--latency", "0"]
    with workdir("p3", keep) as root:
        services = Stack(env={}, log_dir=root / "logs", workers=0, beat=False)
        stacks: dict[str, tuple[Stack, Any]] = {}
        seed_port = free_port()
        try:
            redis_url = start_redis(services)
            services.sandbox_port, services.sandbox_args = seed_port, sandbox_args
            services.start()  # the seed client's own sandbox
            for n, (name, (faults, public)) in enumerate(VARIANTS.items(), start=1):
                sandbox_port, receiver_port = free_port(), free_port()
                env = make_env(root / name, broker_url=redis_url.replace("/0", f"/{n}"), public=public,
                               receiver_port=receiver_port, sandbox_port=sandbox_port)
                args = [*sandbox_args, *(["--faults", json.dumps(faults)] if faults else [])]
                stack = Stack(env=env.env, log_dir=env.log_dir, sandbox_port=sandbox_port, sandbox_args=args,
                              receiver_port=receiver_port, workers=1, beat=True)
                stack.start()
                stacks[name] = (stack, env.settings)
            seed_runs: list[ClientRun] = []
            seed_thread = threading.Thread(
                target=lambda: seed_runs.extend(run_clients(f"http://127.0.0.1:{seed_port}", clients)), daemon=True)
            started = time.time()
            seed_thread.start()
            job_ids = {name: enqueue_bulk(settings, jobs) for name, (_, settings) in stacks.items()}
            for name, (_, settings) in stacks.items():
                def all_finished(settings: Any = settings) -> bool:
                    return len(_finished(settings)) >= jobs

                wait_until(all_finished, generation + 240, 0.5, f"{name} jobs finished")
            seed_thread.join(timeout=generation + 400)
            time.sleep(1.0)  # any call still on the wire
            figures = _figures(stacks, job_ids, seed_runs, seed_port, started, generation, clients)
        finally:
            for stack, _ in stacks.values():
                stack.stop()
            services.stop()
    return figures


def _figures(stacks: dict[str, tuple[Stack, Any]], job_ids: dict[str, list[str]], seed_runs: list[ClientRun],
             seed_port: int, started: float, generation: float, clients: int) -> list[Figure]:
    seed_done = [r for r in seed_runs if r.status == "COMPLETE"]
    seed_calls = upstream_calls(sandbox_requests(f"http://127.0.0.1:{seed_port}"))
    seed_per_job = len(seed_calls) / max(1, len(seed_done))
    seed_url = f"http://127.0.0.1:{seed_port}"
    seen_late = []
    for run in seed_done:
        history = sandbox_task(seed_url, str(run.task_id))["history"]
        finished = next(h["time"] for h in history if h["status"] == "COMPLETE")
        seen_late.append((run.seen_complete_at or finished) - finished)
    seed_note = (f"seed client x{clients}: {len(seed_calls)} calls for {len(seed_done)} songs = "
                 f"{seed_per_job:.2f}/song; "
                 f"it saw COMPLETE {median(seen_late):.2f}s (p50) / {percentile(seen_late, 99):.2f}s (p99) after "
                 f"the task finished" if seen_late else "seed client: no song completed")
    figures = []
    for name, (stack, settings) in stacks.items():
        calls = upstream_calls(sandbox_requests(str(stack.sandbox_url)))
        finished = _finished(settings)
        succeeded = [j for j in finished if j.status == "succeeded"]
        per_job = len(calls) / max(1, len(succeeded))
        kinds: dict[str, int] = {}
        for call in calls:
            path = "/suno/fetch/<id>" if call["path"].startswith("/suno/fetch/") else call["path"]
            key = f"{call['method']} {path}"
            kinds[key] = kinds.get(key, 0) + 1
        took = [(j.finished_at.timestamp() - started) for j in succeeded if j.finished_at]
        batch_sizes = [len((c.get("json") or {}).get("ids") or []) for c in calls if c["path"] == "/suno/fetch"]
        fewer = seed_per_job / per_job if per_job else None
        notes = [f"{len(calls)} upstream calls for {len(succeeded)}/{len(finished)} succeeded jobs: {kinds}"
                 + (f"; batch sizes {batch_sizes}" if batch_sizes else ""),
                 f"time to succeeded from the start: p50 {median(took):.1f}s, max {max(took):.1f}s "
                 f"(generation {generation:.0f}s)" if took else "no job succeeded",
                 f"{fewer:.1f}x fewer calls per job than the seed client" if fewer else ""]
        if name == "P3":
            met = per_job <= 1.01 and fewer is not None and fewer >= 10
            figures.append(Figure(name, f"upstream calls/succeeded job, callbacks healthy, {generation:.0f}s songs",
                                  per_job, "calls", seed_per_job, "seed client calls/song", fewer,
                                  "<= 1.01 and >= 10x fewer", met, [*notes, seed_note]))
        elif name == "P3b":
            met = fewer is not None and fewer >= 10
            figures.append(Figure(name, "upstream calls/succeeded job, 100% callbacks dropped", per_job, "calls",
                                  seed_per_job, "seed client calls/song", fewer, ">= 10x fewer", met, notes))
        else:
            figures.append(Figure(name, "upstream calls/succeeded job, no public URL (polling mode)", per_job,
                                  "calls", seed_per_job, "seed client calls/song", fewer, "(context)", None, notes))
    for figure in figures:
        figure.notes = [n for n in figure.notes if n]
    return figures


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--step-seconds", type=float, default=20.0)
    args = parse_args(parser)
    figures = run(args.jobs, args.clients, args.step_seconds, args.keep)
    report(figures, "bench.p3_upstream_calls")


if __name__ == "__main__":
    main()

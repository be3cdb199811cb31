"""P4: from a step's terminal callback to the next pipeline step's submit reaching the upstream, p50 / p99, on Redis.

    python -m bench.p4_pipeline_latency [--pipelines 30] [--rate 1]

Pipelines ``song (generate) -> extend (from song, clip 0)`` are started at ``--rate`` per second (a steady load,
not a burst) on real processes: sandbox at zero latency (``--step-seconds 0.05``), gunicorn receiver, one worker
with its defaults, beat, Redis. For each pipeline, from the sandbox's own records:

- t_sent:    the song task turned COMPLETE in the sandbox, which posts the callback at that instant;
- t_applied: the receiver committed that callback (``callbacks.received_at``);
- t_next:    the extend step's ``POST /suno/submit/music`` (``task: extend``, ``task_id`` = the song's task) arrived.

The figure is t_next - t_sent (it includes the callback's own delivery, so it is an upper bound); t_next -
t_applied is given too. The baseline is the seed client's poll interval (5 s: it learns of COMPLETE up to 5 s
late, 2.5 s on average; P3 measures this). The worker's own runtimes for ``job_finished`` (artifact downloads,
then the pipeline advance) and ``submit_job`` come from its log.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.harness import (
    Figure,
    bench_parser,
    bench_stack,
    child_pids,
    finish_profiles,
    hot_frames,
    make_env,
    median,
    parse_args,
    percentile,
    profile_pids,
    report,
    sandbox_requests,
    sandbox_task,
    start_gunicorn,
    start_redis,
    start_sandbox,
    workdir,
)
from bench.p2_throughput import SANDBOX_ARGS
from bench.seed_client import POLL_SECONDS
from shared.cli.stack import free_port, wait_until
from shared.db import open_session
from shared.models import CallbackRecord, Job, Pipeline
from shared.states import CallbackVerdict

SPEC = {"name": "bench-p4", "steps": {
    "song": {"op": "generate", "params": {"prompt": "[Verse]\nNeon on the water\n\n[Chorus]\nHold on",
                                          "tags": "synthwave", "title": "Harbour", "mv": "chirp-auk"}},
    "extend": {"op": "extend", "from": "song", "pick": 0,
               "params": {"prompt": "[Bridge]\nRopes let go", "tags": "synthwave", "title": "Harbour (more)",
                          "continue_at": 2}},
}}
TASK_RUNTIME = re.compile(r"Task (hookline\.\w+)\[[^\]]+\] succeeded in ([0-9.]+)s")


def worker_runtimes(log: Path) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for match in TASK_RUNTIME.finditer(log.read_text(errors="replace")):
        found.setdefault(match.group(1), []).append(float(match.group(2)))
    return found


def _pipelines_done(settings: Any, count: int) -> bool:
    with open_session(settings) as session:
        done = session.scalars(select(Pipeline.status).where(Pipeline.status != "running")).all()
    return len(done) >= count


def run(pipelines: int = 30, rate: float = 1.0, profile: bool = False, keep: bool = False) -> list[Figure]:
    from shared.pipelines import create_pipeline

    with workdir("p4", keep) as root:
        sandbox_port, receiver_port = free_port(), free_port()
        env = make_env(root, receiver_port=receiver_port, sandbox_port=sandbox_port)
        stack = bench_stack(env)
        try:
            env.env["HOOKLINE_BROKER_URL"] = start_redis(stack)
            settings = env.settings
            start_sandbox(stack, sandbox_port, SANDBOX_ARGS)
            start_gunicorn(stack, "receiver", "webhook.wsgi:app", receiver_port)
            worker = stack.start_worker("worker0")
            stack._spawn("beat", [sys.executable, "-m", "shared.cli", "beat"])
            create_pipeline(settings, SPEC)  # warm-up: worker up, imports and connections done
            wait_until(lambda: _pipelines_done(settings, 1), 120, 0.1, "warm-up pipeline")
            profiles = []
            if profile:
                pids = [worker.pid, *child_pids(stack.procs["receiver"].pid)[1:]]
                profiles = profile_pids(pids, pipelines / rate, root / "profiles", "p4")
            ids = []
            for _ in range(pipelines):
                ids.append(create_pipeline(settings, SPEC))
                time.sleep(1.0 / rate)
            wait_until(lambda: _pipelines_done(settings, pipelines + 1), 300, 0.2, "pipelines finished")
            finish_profiles(profiles)
            figures = _measure(settings, f"http://127.0.0.1:{sandbox_port}", ids, env.log_dir / "worker0.log")
            if profiles:
                raw = sorted((root / "profiles").glob("p4-*.txt"))
                figures[0].notes += [f"profile (worker): {i:5.1f}% incl, {s:4.1f}% self  {f}" for f, i, s in
                                     hot_frames([p for p in raw if p.name == f"p4-{worker.pid}.txt"], 25, (".py:",))]
        finally:
            stack.stop()
    return figures


def _measure(settings: Any, sandbox_url: str, pipeline_ids: list[str], worker_log: Path) -> list[Figure]:
    submits = [r for r in sandbox_requests(sandbox_url) if r["path"] == "/suno/submit/music"]
    extend_at = {(r.get("json") or {}).get("task_id"): r["time"] for r in submits
                 if (r.get("json") or {}).get("task") == "extend"}
    from_sent: list[float] = []
    from_applied: list[float] = []
    with open_session(settings) as session:
        songs = session.scalars(select(Job).where(Job.pipeline_id.in_(pipeline_ids), Job.step_name == "song")).all()
        for song in songs:
            task_id = song.upstream_task_id
            if task_id not in extend_at:
                continue
            history = sandbox_task(sandbox_url, str(task_id))["history"]
            sent = next(h["time"] for h in history if h["status"] == "COMPLETE")
            applied = session.scalar(select(CallbackRecord.received_at).where(
                CallbackRecord.job_id == song.id, CallbackRecord.verdict == CallbackVerdict.APPLIED.value,
                CallbackRecord.upstream_status == "COMPLETE"))
            from_sent.append(extend_at[task_id] - sent)
            if applied is not None:
                from_applied.append(extend_at[task_id] - applied.timestamp())
    if not from_sent:
        return [Figure("P4", "callback -> next step submit", None, "ms", notes=["no pipeline reached its extend"])]
    p50, p99 = 1000 * median(from_sent), 1000 * percentile(from_sent, 99)
    runtimes = worker_runtimes(worker_log)
    notes = [(f"{len(from_sent)}/{len(pipeline_ids)} pipelines measured; from the sandbox sending COMPLETE: p50 "
              f"{p50:.0f} ms, p99 {p99:.0f} ms, max {1000 * max(from_sent):.0f} ms"),
             (f"from the receiver's commit of that callback: p50 {1000 * median(from_applied):.0f} ms, p99 "
              f"{1000 * percentile(from_applied, 99):.0f} ms") if from_applied else "no callback records",
             f"example client: learns of COMPLETE up to {POLL_SECONDS} s late (2.5 s on average), then submits"]
    for name in ("hookline.job_finished", "hookline.submit_job"):
        values = runtimes.get(name) or []
        if values:
            notes.append(f"worker runtime of {name}: p50 {1000 * median(values):.0f} ms, p99 "
                         f"{1000 * percentile(values, 99):.0f} ms (n={len(values)})")
    baseline_ms = 1000.0 * POLL_SECONDS
    return [
        Figure("P4", "terminal callback -> next step's submit upstream, p99", p99, "ms", baseline_ms,
               "seed client poll interval, ms", baseline_ms / p99 if p99 else None, "p99 <= 100 ms", p99 <= 100,
               notes),
        Figure("P4", "terminal callback -> next step's submit upstream, p50", p50, "ms", baseline_ms / 2,
               "seed client mean wait, ms", (baseline_ms / 2) / p50 if p50 else None, "", None),
    ]


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--pipelines", type=int, default=30)
    parser.add_argument("--rate", type=float, default=1.0, help="pipelines started per second")
    args = parse_args(parser)
    figures = run(args.pipelines, args.rate, args.profile, args.keep)
    report(figures, "bench.p4_pipeline_latency")


if __name__ == "__main__":
    main()

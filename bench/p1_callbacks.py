"""P1: callbacks/s the receiver verifies and applies, under gunicorn, against a bare Flask view on the same settings.

    python -m bench.p1_callbacks [--seconds 8] [--rounds 2] [--connections 16] [--profile]

Both servers run the deploy files' command (``gunicorn -w 4``, sync workers) on loopback; ``wrk`` drives them
with the same script: each request is a COMPLETE callback (the sandbox's own task object, two clips) for a
different job that waits in ``submitted``, so every one is a full apply: token check, body parse, task-id match,
compare-and-set to succeeded, two clip rows, the callback record, commit, and the follow-up enqueued on Redis.
The bare view returns ``{}`` for the same URL and body. Rounds alternate bare/hookline so drift hits both.
Counted afterwards: the jobs really applied and the follow-ups really on the Redis queue.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import redis
import requests
from flask import Flask
from sqlalchemy import func, select

from bench.harness import (
    GUNICORN_WORKERS,
    SONG,
    Figure,
    bench_parser,
    bench_stack,
    child_pids,
    current_db,
    finish_profiles,
    fmt,
    hot_frames,
    insert_in_flight_jobs,
    make_env,
    parse_args,
    profile_pids,
    queued_on_redis,
    report,
    start_gunicorn,
    start_redis,
    start_sandbox,
    workdir,
)
from shared.cli.stack import free_port, wait_until
from shared.config import Settings, hook_secret
from shared.db import open_session
from shared.jobs.hook_urls import hook_token
from shared.models import CallbackRecord
from shared.states import CallbackVerdict

TASK_MARK = "@@TASK@@"
WARMUP_SECONDS = 2.0

# The baseline: a bare Flask view returning {} for the same route, under the same gunicorn command.
bare_app = Flask("bare")


@bare_app.post("/hooks/cometapi/<job_id>/<int:attempt>/<token>")
def bare_callback(job_id: str, attempt: int, token: str) -> dict[str, Any]:
    return {}


@bare_app.get("/healthz")
def bare_health() -> dict[str, Any]:
    return {}


WRK_SCRIPT = r"""
-- Each request: the next target (path, task id) from the file, with its task id put into the body template.
local targets, n, i, template = {}, 0, 0, ""
init = function(args)
  for line in io.lines(args[1]) do
    local path, task = line:match("^([^\t]+)\t([^\t]+)$")
    if path then n = n + 1; targets[n] = {path, task} end
  end
  local f = io.open(args[2], "rb"); template = f:read("*a"); f:close()
end
request = function()
  i = i + 1
  if i > n then i = 1 end
  local t = targets[i]
  local body = (template:gsub("@@TASK@@", t[2]))
  return wrk.format("POST", t[1], {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d " ..
    "p50_us=%d p99_us=%d\n", summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def complete_task_template(sandbox_url: str) -> str:
    """A real COMPLETE task object from the sandbox, with its task id (and the clip ids made from it) marked."""
    answer = requests.post(f"{sandbox_url}/suno/submit/music", json=SONG, timeout=10).json()
    task_id = answer["data"]

    def fetched() -> dict[str, Any]:
        return dict(requests.get(f"{sandbox_url}/suno/fetch/{task_id}", timeout=10).json()["data"])

    wait_until(lambda: fetched()["status"] == "COMPLETE", 30, 0.05, "template task COMPLETE")
    task = fetched()
    for n, clip in enumerate(task["data"]):
        text = json.dumps(clip).replace(clip["id"], f"{TASK_MARK}-c{n}")
        task["data"][n] = json.loads(text)
    return json.dumps(task).replace(task_id, TASK_MARK)


def run_wrk(url: str, script: Path, targets: Path, template: Path, seconds: float,
            connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(script), url, "--",
         str(targets), str(template)],
        capture_output=True, text=True, check=True,
    ).stdout
    found = re.search(r"BENCH (.*)", out)
    if not found:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    stats = {k: float(v) for k, v in (kv.split("=") for kv in found.group(1).split())}
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    stats["errors"] = sum(stats[k] for k in ("connect", "read", "write", "status", "timeout"))
    return stats


def applied_count(settings: Settings) -> int:
    with open_session(settings) as session:
        return int(session.scalar(select(func.count()).select_from(CallbackRecord)
                                  .where(CallbackRecord.verdict == CallbackVerdict.APPLIED.value)) or 0)


def run(seconds: float = 8.0, rounds: int = 2, connections: int = 16, jobs_per_round: int = 5000,
        profile: bool = False, keep: bool = False, workers: tuple[int, ...] | None = None) -> list[Figure]:
    """``workers``: the gunicorn -w counts to measure (default: 1, 2, 4 on PostgreSQL, where the receiver can scale
    with processes; 4 on SQLite, whose one write lock it cannot)."""
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    workers = workers or ((1, 2, 4) if current_db() == "postgres" else (GUNICORN_WORKERS,))
    with workdir("p1", keep) as root:
        sandbox_port, bare_port = free_port(), free_port()
        hook_ports = {w: free_port() for w in workers}
        env = make_env(root, receiver_port=hook_ports[workers[-1]], sandbox_port=sandbox_port)
        stack = bench_stack(env)  # redis, sandbox and the servers
        try:
            broker = start_redis(stack)
            env.env["HOOKLINE_BROKER_URL"] = broker
            start_sandbox(stack, sandbox_port, ["--step-seconds", "0.01", "--clip-seconds", "12"])
            template = root / "template.json"
            template.write_text(complete_task_template(f"http://127.0.0.1:{sandbox_port}"))
            settings = env.settings
            secret = hook_secret(settings)
            # slice 0 warms every server up (imports, connections, first send_task); then one per round and -w
            slices = 1 + rounds * len(workers)
            task_ids = [f"bench-{n:07d}-task" for n in range(slices * jobs_per_round)]
            job_ids = insert_in_flight_jobs(settings, task_ids)
            target_files = []
            for r in range(slices):
                path = root / f"targets-{r}.txt"
                lines = [f"/hooks/cometapi/{job_ids[k]}/1/{hook_token(secret, job_ids[k], 1)}\t{task_ids[k]}"
                         for k in range(r * jobs_per_round, (r + 1) * jobs_per_round)]
                path.write_text("\n".join(lines) + "\n")
                target_files.append(path)
            script = root / "callbacks.lua"
            script.write_text(WRK_SCRIPT)
            hook_procs = {w: start_gunicorn(stack, f"receiver-w{w}", "webhook.wsgi:app", port, workers=w)
                          for w, port in hook_ports.items()}
            start_gunicorn(stack, "bare", "bench.p1_callbacks:bare_app", bare_port)
            queue = redis.Redis.from_url(broker)
            bare_rps: list[float] = []
            hook_rps: dict[int, list[float]] = {w: [] for w in workers}
            notes: list[str] = []
            profiles: list[subprocess.Popen[bytes]] = []
            warm = target_files[0]
            for port in (bare_port, *hook_ports.values()):
                run_wrk(f"http://127.0.0.1:{port}", script, warm, template, WARMUP_SECONDS, connections)
            next_slice = iter(target_files[1:])
            for r in range(1, rounds + 1):
                bare = run_wrk(f"http://127.0.0.1:{bare_port}", script, target_files[r], template, seconds,
                               connections)
                bare_rps.append(bare["rps"])
                notes.append(f"round {r}: bare {bare['rps']:.0f} req/s (errors {bare['errors']:.0f}, p99 "
                             f"{bare['p99_us'] / 1000:.1f} ms)")
                for w, port in hook_ports.items():
                    targets = next(next_slice)
                    before_applied, before_queued = applied_count(settings), queued_on_redis(queue)
                    if profile and r == rounds and w == workers[-1]:
                        pids = child_pids(hook_procs[w].pid)[1:]  # the gunicorn workers
                        profiles = profile_pids(pids, seconds, root / "profiles", "receiver")
                    hook = run_wrk(f"http://127.0.0.1:{port}", script, targets, template, seconds, connections)
                    finish_profiles(profiles)
                    time.sleep(0.5)  # requests still in flight when wrk stopped, and the relay threads
                    applied = applied_count(settings) - before_applied
                    enqueued = queued_on_redis(queue) - before_queued
                    hook_rps[w].append(applied / (hook["duration_us"] / 1e6))
                    notes.append(f"round {r}, -w {w}: hookline {hook['rps']:.0f} req/s answered, {applied} applied, "
                                 f"{enqueued} follow-ups on Redis (errors {hook['errors']:.0f}, p50 "
                                 f"{hook['p50_us'] / 1000:.1f} ms, p99 {hook['p99_us'] / 1000:.1f} ms)")
                    if hook["requests"] > jobs_per_round:
                        notes.append(f"round {r}: more requests than prepared jobs ({jobs_per_round}); raise "
                                     "--jobs-per-round (the excess were duplicates, cheaper than applies)")
            if profiles:
                raw = sorted((root / "profiles").glob("receiver-*.txt"))
                for frame, incl, own in hot_frames(raw, top=14, include=(".py:",)):
                    notes.append(f"profile: {incl:5.1f}% incl, {own:4.1f}% self  {frame}")
        finally:
            stack.stop()
    bare_mean = sum(bare_rps) / len(bare_rps)
    means = {w: sum(v) / len(v) for w, v in hook_rps.items()}
    top = workers[-1]
    ratio = means[top] / bare_mean if bare_mean else None
    figure = Figure("P1", f"callbacks applied/s (gunicorn -w {top}, Redis)", means[top], "/s", bare_mean,
                    "bare Flask {} /s", ratio, "ratio >= 0.60", ratio is not None and ratio >= 0.60, notes)
    figure.notes.insert(0, f"wrk -t1 -c{connections} -d{seconds:g}s x {rounds} rounds, alternating; "
                           f"mean hookline {fmt(means[top])}/s vs bare {fmt(bare_mean)}/s; {os.cpu_count()} cores "
                           "shared by wrk, gunicorn, the database server and Redis")
    figures = [figure]
    if len(workers) > 1:
        for w in workers[1:]:
            scale = means[w] / means[workers[0]] if means[workers[0]] else None
            figures.append(Figure("P1-scale", f"receiver scaling: callbacks/s at -w {w} vs -w {workers[0]}",
                                  means[w], "/s", means[workers[0]], f"-w {workers[0]} /s", scale,
                                  f"report (ideal {w / workers[0]:g}x; {os.cpu_count()} cores)", None))
    return figures


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--jobs-per-round", type=int, default=5000)
    parser.add_argument("--workers", default="", help="gunicorn -w counts, e.g. 1,2,4 (default: 1,2,4 on "
                        "postgres, 4 on sqlite)")
    args = parse_args(parser)
    workers = tuple(int(w) for w in args.workers.split(",")) if args.workers else None
    figures = run(args.seconds, args.rounds, args.connections, args.jobs_per_round, args.profile, args.keep, workers)
    report(figures, "bench.p1_callbacks")


if __name__ == "__main__":
    main()

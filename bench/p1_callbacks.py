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
    SONG,
    Figure,
    bench_parser,
    bench_stack,
    child_pids,
    finish_profiles,
    fmt,
    hot_frames,
    insert_in_flight_jobs,
    make_env,
    profile_pids,
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
        profile: bool = False, keep: bool = False) -> list[Figure]:
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    with workdir("p1", keep) as root:
        sandbox_port, hook_port, bare_port = free_port(), free_port(), free_port()
        env = make_env(root, receiver_port=hook_port, sandbox_port=sandbox_port)
        stack = bench_stack(env)  # redis, sandbox and both servers
        try:
            broker = start_redis(stack)
            env.env["HOOKLINE_BROKER_URL"] = broker
            start_sandbox(stack, sandbox_port, ["--step-seconds", "0.01", "--clip-seconds", "12"])
            template = root / "template.json"
            template.write_text(complete_task_template(f"http://127.0.0.1:{sandbox_port}"))
            settings = env.settings
            secret = hook_secret(settings)
            slices = rounds + 1  # slice 0 warms both servers up (imports, connections, first send_task)
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
            hook_proc = start_gunicorn(stack, "receiver", "webhook.wsgi:app", hook_port)
            start_gunicorn(stack, "bare", "bench.p1_callbacks:bare_app", bare_port)
            queue = redis.Redis.from_url(broker)
            bare_rps: list[float] = []
            hook_rps: list[float] = []
            notes: list[str] = []
            profiles: list[subprocess.Popen[bytes]] = []
            for port in (bare_port, hook_port):
                run_wrk(f"http://127.0.0.1:{port}", script, target_files[0], template, WARMUP_SECONDS, connections)
            for r in range(1, slices):
                bare = run_wrk(f"http://127.0.0.1:{bare_port}", script, target_files[r], template, seconds, connections)
                bare_rps.append(bare["rps"])
                before_applied, before_queued = applied_count(settings), queue.llen("hookline")
                if profile and r == rounds:
                    pids = child_pids(hook_proc.pid)[1:]  # the gunicorn workers
                    profiles = profile_pids(pids, seconds, root / "profiles", "receiver")
                hook = run_wrk(f"http://127.0.0.1:{hook_port}", script, target_files[r], template, seconds, connections)
                finish_profiles(profiles)
                time.sleep(0.5)  # requests still in flight when wrk stopped
                applied = applied_count(settings) - before_applied
                enqueued = queue.llen("hookline") - before_queued
                hook_rps.append(applied / (hook["duration_us"] / 1e6))
                notes.append(f"round {r}: bare {bare['rps']:.0f} req/s (errors {bare['errors']:.0f}, p99 "
                             f"{bare['p99_us'] / 1000:.1f} ms); hookline {hook['rps']:.0f} req/s answered, {applied} "
                             f"applied, {enqueued} follow-ups on Redis (errors {hook['errors']:.0f}, p50 "
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
    hook_mean = sum(hook_rps) / len(hook_rps)
    ratio = hook_mean / bare_mean if bare_mean else None
    figure = Figure("P1", "callbacks applied/s (gunicorn -w 4, SQLite, Redis)", hook_mean, "/s", bare_mean,
                    "bare Flask {} /s", ratio, "ratio >= 0.60", ratio is not None and ratio >= 0.60, notes)
    figure.notes.insert(0, f"wrk -t1 -c{connections} -d{seconds:g}s x {rounds} rounds, alternating; "
                           f"mean hookline {fmt(hook_mean)}/s vs bare {fmt(bare_mean)}/s")
    return [figure]


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--jobs-per-round", type=int, default=5000)
    args = parser.parse_args()
    figures = run(args.seconds, args.rounds, args.connections, args.jobs_per_round, args.profile, args.keep)
    report(figures, "bench.p1_callbacks")


if __name__ == "__main__":
    main()

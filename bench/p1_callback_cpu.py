"""P1-CPU: CPU per applied COMPLETE callback in one process, the receiver's own cost without contention.

    python -m bench.p1_callback_cpu [--db sqlite|postgres] [--callbacks 2000]

The receiver app (``webhook.app.create_app``) is called as a WSGI app in this process, one request after another,
each a COMPLETE callback (two clips, the sandbox's task shape) for a different job waiting in ``submitted``: token
check, parse, compare-and-set to succeeded, clips, the callback record, the outbox row, commit, answer. The WSGI
environs are built before the clock starts; the clock is ``time.process_time`` (every thread of this process, so
the relay thread's publish of the follow-ups to Redis is counted too) and ``time.thread_time`` (the request thread
only). No profiler runs while timing. Baseline: the same script on main before issue 16 (BEFORE_MS); a bare Flask
view returning ``{}`` through the same loop is in the notes.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder

from bench.harness import (
    Figure,
    bench_parser,
    bench_stack,
    current_db,
    insert_in_flight_jobs,
    make_env,
    parse_args,
    queued_on_redis,
    report,
    start_redis,
    wait_until,
    workdir,
)
from shared.config import hook_secret
from shared.db import open_session
from shared.jobs.hook_urls import hook_token
from shared.log_format import configure_logging
from shared.models import Job

GOAL_MS = 1.0
# main at 1cd30f4 (in-request relay, ORM path), this script, 2,000 callbacks: bench/RESULTS.md, 2026-11-30 02:32 UTC
BEFORE_MS = {"sqlite": 3.84, "postgres": 6.69}
WARMUP = 200
bare_app = Flask("bare")


@bare_app.post("/hooks/cometapi/<job_id>/<int:attempt>/<token>")
def bare_callback(job_id: str, attempt: int, token: str) -> dict[str, Any]:
    return {}


def complete_task(task_id: str) -> dict[str, Any]:
    """A COMPLETE task as the sandbox sends it: two finished clips with their URLs and metadata."""
    clips = [{"id": f"{task_id}-c{n}", "title": "City Dreams", "status": "complete", "model_name": "chirp-crow",
              "audio_url": f"https://cdn1.suno.ai/{task_id}-{n}.mp3", "image_url": "https://cdn2.suno.ai/i.jpeg",
              "image_large_url": "https://cdn2.suno.ai/il.jpeg", "video_url": "",
              "metadata": {"duration": 12.0, "tags": "indie pop", "prompt": "[Verse]", "type": "gen"},
              "created_at": "2026-11-30T00:00:00.000Z"} for n in range(2)]
    return {"task_id": task_id, "action": "MUSIC", "status": "COMPLETE", "progress": "100%", "fail_reason": "",
            "submit_time": 1, "start_time": 2, "finish_time": 3, "data": clips}


def _environs(job_ids: list[str], task_ids: list[str], secret: bytes) -> list[dict[str, Any]]:
    out = []
    for job_id, task_id in zip(job_ids, task_ids, strict=True):
        body = json.dumps(complete_task(task_id)).encode()
        builder = EnvironBuilder(path=f"/hooks/cometapi/{job_id}/1/{hook_token(secret, job_id, 1)}", method="POST",
                                 data=body, content_type="application/json", environ_base={"REMOTE_ADDR": "127.0.0.1"})
        out.append(builder.get_environ())
    return out


def _drive(app: Callable[..., Any], environs: list[dict[str, Any]]) -> tuple[float, float, list[str]]:
    """Call the WSGI app once per environ: (process CPU s, request-thread CPU s, statuses)."""
    statuses: list[str] = []

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Callable[[bytes], None]:
        statuses.append(status)
        return lambda _: None

    for environ in environs:  # a fresh input stream, outside the clock
        environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].getvalue())
    cpu0, thread0 = time.process_time(), time.thread_time()
    for environ in environs:
        for _ in app(environ, start_response):
            pass
    return time.process_time() - cpu0, time.thread_time() - thread0, statuses


def _succeeded(settings: Any, ids: list[str]) -> int:
    with open_session(settings) as session:
        return sum(int(session.scalar(select(func.count()).select_from(Job).where(
            Job.id.in_(ids[i:i + 500]), Job.status == "succeeded")) or 0) for i in range(0, len(ids), 500))


def run(callbacks: int = 2000, db_kind: str | None = None, keep: bool = False) -> list[Figure]:
    from webhook.app import create_app

    db_kind = db_kind or current_db()

    with workdir("p1cpu", keep) as root:
        env = make_env(root, receiver_port=1, db_kind=db_kind)
        stack = bench_stack(env)
        try:
            broker = start_redis(stack)
            env.env["HOOKLINE_BROKER_URL"] = broker
            settings = env.settings
            total = WARMUP + callbacks
            task_ids = [f"cpu-{n:07d}-task" for n in range(total)]
            job_ids = insert_in_flight_jobs(settings, task_ids)
            environs = _environs(job_ids, task_ids, hook_secret(settings))
            bare_environs = _environs(job_ids[:callbacks], task_ids[:callbacks], hook_secret(settings))
            log_file = (root / "receiver.log").open("w")
            configure_logging(settings, stream=log_file)  # as gunicorn's receiver logs: INFO, one line a callback
            app = create_app({"HOOKLINE_SETTINGS": settings})
            _drive(app, environs[:WARMUP])
            queue = redis.Redis.from_url(broker)
            queued_before = queued_on_redis(queue)
            cpu, thread_cpu, statuses = _drive(app, environs[WARMUP:])
            # Whatever the relay thread still has to publish is CPU of these callbacks: wait for it, count it.
            cpu0 = time.process_time()
            wait_until(lambda: queued_on_redis(queue) - queued_before >= callbacks, 120, 0.01, "follow-ups on Redis")
            cpu += time.process_time() - cpu0
            _drive(bare_app, bare_environs[:WARMUP])
            bare_cpu, _, _ = _drive(bare_app, bare_environs)
            applied = _succeeded(settings, job_ids[WARMUP:])
            published = queued_on_redis(queue) - queued_before
        finally:
            stack.stop()
    ok = sum(s.startswith("200") for s in statuses)
    per_ms, thread_ms, bare_ms = 1000 * cpu / callbacks, 1000 * thread_cpu / callbacks, 1000 * bare_cpu / callbacks
    notes = [f"{callbacks} COMPLETE callbacks after {WARMUP} warm-up: {ok} answered 200, {applied} jobs succeeded, "
             f"{published} follow-ups on Redis",
             f"process CPU {per_ms:.3f} ms/callback (all threads, incl. the follow-ups' publish); request thread "
             f"{thread_ms:.3f} ms; bare Flask view {bare_ms:.3f} ms through the same loop"]
    if applied != callbacks or published < callbacks:
        notes.append("NOT every callback was applied and published: the figure is not valid")
    valid = applied == callbacks and published >= callbacks
    before = BEFORE_MS[db_kind]
    return [Figure("P1-CPU", "CPU per applied COMPLETE callback, one process", per_ms, "ms",
                   before, "main before issue 16, ms", before / per_ms if per_ms else None, f"<= {GOAL_MS:g} ms",
                   valid and per_ms <= GOAL_MS, notes)]


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--callbacks", type=int, default=2000)
    args = parse_args(parser)
    report(run(args.callbacks, args.db, args.keep), "bench.p1_callback_cpu")


if __name__ == "__main__":
    main()

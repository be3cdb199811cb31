"""Many workers, two receivers, one Redis, on SQLite and on PostgreSQL: concurrent duplicate callbacks and
redelivered submit messages never cause a double transition, a double submit or a lost update."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from shared.cli.stack import free_port
from shared.config import hook_secret
from shared.db import open_session
from shared.jobs.hook_urls import hook_token
from shared.models import CallbackRecord, Clip
from shared.tasks import enqueue_submit
from tests.e2e.driver import create_job, get_job, submits, wait_job

JOBS = 12
COPIES = 6  # each callback is sent this many times, spread over both receivers, all at once


@pytest.fixture(params=["sqlite", "postgres"])
def database_env(request):
    if request.param == "postgres":
        return {"HOOKLINE_DATABASE_URL": request.getfixturevalue("postgres_url")}
    return {}


def task_body(task_id: str, status: str, n: int) -> dict:
    clips = [{"id": f"{task_id}-clip{k}", "title": f"T{n}",
              "status": "complete" if status == "COMPLETE" else "streaming",
              "audio_url": f"https://cdn1.suno.ai/{task_id}-{k}.mp3", "metadata": {"duration": 30.0 + k}}
             for k in range(2)]
    return {"task_id": task_id, "action": "MUSIC", "status": status,
            "progress": "100%" if status == "COMPLETE" else "50%",
            "data": [] if status == "IN_PROGRESS" else clips}


def test_duplicate_callbacks_and_redelivered_submits_race_safely(make_stack, redis_url, database_env):
    second_port = free_port()
    stack, settings = make_stack(broker_url=redis_url, env=database_env, workers=3,
                                 sandbox_args=["--step-seconds", "120", "--clip-seconds", "6"])
    stack.start_receiver("receiver2", second_port)
    receivers = [stack.receiver_url, f"http://127.0.0.1:{second_port}"]
    job_ids = [create_job(stack, "music",
                          {"prompt": f"[Verse]\n{n}", "tags": "race", "title": f"R{n}", "mv": "chirp-v4"})
               for n in range(JOBS)]
    jobs = [wait_job(stack, j, until={"submitted", "running"}) for j in job_ids]

    for job_id in job_ids * 4:  # redelivered / duplicated submit messages, consumed by 3 workers at once
        enqueue_submit(settings, job_id)

    secret = hook_secret(settings)
    sends = []
    for n, job in enumerate(jobs):
        url = f"/hooks/cometapi/{job['id']}/1/{hook_token(secret, job['id'], 1)}"
        for status in ("IN_PROGRESS", "STREAMING", "COMPLETE"):
            sends += [(url, task_body(job["upstream_task_id"], status, n))] * COPIES
    random.Random(3).shuffle(sends)

    def send(item):
        url, body = item
        return requests.post(random.choice(receivers) + url, json=body, timeout=60).status_code

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(send, sends))
    assert set(codes) == {200}, sorted(set(codes))

    final = [get_job(stack, j) for j in job_ids]
    assert [j["status"] for j in final] == ["succeeded"] * JOBS
    assert all(len(j["clips"]) == 2 and {c["duration"] for c in j["clips"]} == {30.0, 31.0} for j in final)
    sent = submits(stack)
    assert len(sent) == JOBS, "one paid submit per job, whatever was redelivered"
    with open_session(settings) as s:
        applied = s.execute(
            select(CallbackRecord.job_id, CallbackRecord.upstream_status, func.count())
            .where(CallbackRecord.verdict == "applied").group_by(CallbackRecord.job_id, CallbackRecord.upstream_status)
        ).all()
        clip_rows = s.scalar(select(func.count()).select_from(Clip))
        total = s.scalar(select(func.count()).select_from(CallbackRecord))
    assert all(count == 1 for _, _, count in applied), "no transition applied twice"
    assert {(job, st) for job, st, _ in applied if st == "COMPLETE"} == {(j, "COMPLETE") for j in job_ids}
    assert clip_rows == 2 * JOBS, "no duplicate clip rows"
    assert total >= len(sends), "every callback was recorded"

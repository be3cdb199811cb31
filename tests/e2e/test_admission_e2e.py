"""Admission on real processes (receiver, two workers, beat, sandbox), on both brokers: a global cap of 2, two API
keys with bulk work (one limited to 1 in flight), then an interactive job. Checked from the rows afterwards: the
cap and the key's limit were never exceeded, the keys shared the slots, the interactive job went at the next free
slot, and every job finished. Bounded in time: about 20 s of work, generous timeouts."""

from __future__ import annotations

from datetime import datetime

import requests
from sqlalchemy import select

from shared.apikeys import create_api_key
from shared.cli.stack import wait_until
from shared.db import open_session
from shared.models import ApiKey, Job

CAP = 2
BULK_JOBS = 8


def most_at_once(intervals: list[tuple[datetime, datetime]]) -> int:
    """The largest number of [start, end) intervals open at one moment."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    open_now = peak = 0
    for _, step in edges:
        open_now += step
        peak = max(peak, open_now)
    return peak


def post_job(url: str, key: str, n: int, priority: str) -> str:
    resp = requests.post(f"{url}/v1/jobs", json={"operation": "lyrics", "params": {"prompt": f"admission {n}"},
                                                 "priority": priority},
                         headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["id"])


def test_cap_owner_limit_fair_share_and_priority_across_processes(make_stack, broker_url):
    stack, settings = make_stack(broker_url=broker_url, workers=2,
                                 env={"HOOKLINE_MAX_IN_FLIGHT": str(CAP)},
                                 sandbox_args=["--step-seconds", "0.4", "--clip-seconds", "2"])
    with open_session(settings) as s:
        a, b = create_api_key(s, settings, "a"), create_api_key(s, settings, "b")
        s.get(ApiKey, b.id).max_in_flight = 1
        s.commit()
    url = stack.receiver_url
    bulk_ids = [post_job(url, key.key, n, "bulk") for n in range(BULK_JOBS) for key in (a, b)]
    # Wait until the first slots have turned over, so the interactive job arrives behind a real backlog.
    wait_until(lambda: requests.get(f"{url}/v1/jobs/{bulk_ids[-1]}", headers={"Authorization": f"Bearer {b.key}"},
                                    timeout=10).json()["queue"]["position"] <= BULK_JOBS, timeout=60, interval=0.2,
               what="the backlog moving")
    urgent = post_job(url, a.key, 99, "interactive")

    def all_done() -> list[Job] | None:
        with open_session(settings) as s:
            jobs = list(s.scalars(select(Job)))
        return jobs if all(j.status in ("succeeded", "failed") for j in jobs) else None

    jobs = wait_until(all_done, timeout=180, interval=0.5, what="every job finished")
    assert {j.status for j in jobs} == {"succeeded"}, [(j.id, j.status, j.error) for j in jobs]
    assert len(jobs) == 2 * BULK_JOBS + 1
    spans = {j.id: (j.admitted_at, j.finished_at) for j in jobs}
    assert all(start is not None and end is not None for start, end in spans.values())
    assert most_at_once(list(spans.values())) <= CAP  # the global cap, counted from the rows
    assert most_at_once([spans[j.id] for j in jobs if j.owner == b.id]) == 1  # key b's own limit
    # Fair share: while both keys had bulk work waiting, each held one slot; the interactive job went at the next
    # slot that freed after it arrived (at most one job admitted between its arrival and its admission).
    by_admission = sorted(jobs, key=lambda j: j.admitted_at)
    first_ten = [j.owner for j in by_admission[:10] if j.id != urgent]
    assert 4 <= first_ten.count(b.id) <= 6, first_ten
    job = {j.id: j for j in jobs}[urgent]
    overtaken = [j for j in jobs if j.id != urgent and job.created_at < j.admitted_at < job.admitted_at]
    assert len(overtaken) <= 1, [(j.owner, j.admitted_at) for j in overtaken]

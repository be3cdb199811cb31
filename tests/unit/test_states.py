from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.db import session_factory
from shared.models import Job
from shared.states import (
    RANK,
    TERMINAL,
    TRANSITIONS,
    UPSTREAM_STATUS,
    JobStatus,
    can_transition,
    from_upstream,
    transition,
)


def test_terminal_states_are_final_except_requeue_of_unsent_failures():
    exits = [(s, t) for t, sources in TRANSITIONS.items() for s in sources & TERMINAL]
    assert exits == [(JobStatus.FAILED, JobStatus.QUEUED)]


def test_backward_edges_are_only_requeues():
    backward = sorted((s.value, t.value) for t, sources in TRANSITIONS.items() for s in sources if RANK[t] < RANK[s])
    assert backward == [("failed", "queued"), ("submitting", "queued")]


def test_upstream_map_covers_documented_statuses():
    assert {k: from_upstream(k) for k in ("NOT_START", "IN_PROGRESS", "STREAMING", "COMPLETE", "FAILED")} == {
        "NOT_START": JobStatus.SUBMITTED, "IN_PROGRESS": JobStatus.RUNNING, "STREAMING": JobStatus.STREAMING,
        "COMPLETE": JobStatus.SUCCEEDED, "FAILED": JobStatus.FAILED,
    }
    assert from_upstream("complete") is JobStatus.SUCCEEDED
    assert from_upstream("WHATEVER") is None and from_upstream(None) is None
    assert set(UPSTREAM_STATUS.values()) <= set(JobStatus)


@pytest.mark.parametrize(("current", "target", "ok"), [
    ("queued", "submitting", True), ("submitted", "running", True), ("running", "submitted", False),
    ("succeeded", "failed", False), ("streaming", "succeeded", True), ("succeeded", "queued", False),
    ("canceled", "queued", False), ("queued", "running", True),
])
def test_can_transition(current, target, ok):
    assert can_transition(current, target) is ok


def test_compare_and_set_lets_exactly_one_racer_win(settings):
    Session = session_factory(settings)
    with Session() as s:
        job = Job(operation="music", params={}, status="running")
        s.add(job)
        s.commit()
        job_id = job.id

    def finish(target: JobStatus) -> bool:
        with Session() as s:
            moved = transition(s, job_id, target)
            s.commit()
            return moved

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(finish, [JobStatus.SUCCEEDED, JobStatus.FAILED] * 8))
    assert results.count(True) == 1
    with Session() as s:
        job = s.get(Job, job_id)
        assert job.status in ("succeeded", "failed") and job.finished_at is not None
        assert transition(s, job_id, JobStatus.RUNNING) is False

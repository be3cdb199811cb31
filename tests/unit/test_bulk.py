"""Bulk acceptance on a real migrated SQLite file and the real embedded broker: validation before anything is
written, idempotent line keys, resuming, chunked transactions, flat memory."""

from __future__ import annotations

import json
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from shared.bulk.accept import accept_bulk, validate_bulk
from shared.bulk.progress import bulk_progress, bulk_rate, job_rate
from shared.bulk.source import BulkSource
from shared.db import get_engine, open_session
from shared.errors import ValidationError
from shared.models import BulkBatch, BulkLine, Job
from shared.states import JobStatus, transition


def song(n: int, **extra) -> dict:
    return {"operation": "music", "params": {"gpt_description_prompt": f"a song about {n}", "mv": "chirp-v4"}, **extra}


def write(path: Path, lines: list) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def count(settings, model, *where) -> int:
    with open_session(settings) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_three_bad_lines_are_all_reported_and_nothing_is_written(settings, tmp_path):
    lines = [song(n) for n in range(10)]
    lines[1] = {"operation": "dance", "params": {}}
    lines[4] = '{"operation": "music", "params": '
    lines[8] = song(8, params={"gpt_description_prompt": "x", "mv": 9})  # an unknown name is sent; a number is not
    report = accept_bulk(settings, BulkSource.from_path(write(tmp_path / "bad.jsonl", lines)))

    assert (report.lines, report.valid, report.invalid, report.bulk_id) == (10, 7, 3, None)
    shown = [str(e) for e in report.errors]
    assert shown[0].startswith("line 2: operation: unknown operation 'dance'")
    assert shown[1].startswith("line 5: not valid JSON")
    assert shown[2].startswith("line 9: params.mv: mv must be a string")
    assert count(settings, Job) == count(settings, BulkBatch) == count(settings, BulkLine) == 0


def test_every_problem_of_a_line_is_listed(settings, tmp_path):
    line = {"operation": "lyrics", "params": {}, "key": "", "callback_url": "http://localhost/x", "colour": "red"}
    report = validate_bulk(settings, BulkSource.from_path(write(tmp_path / "one.jsonl", [line])))
    assert report.invalid == 1
    assert {e.field for e in report.errors} == {"colour", "key", "callback_url", "params.prompt"}
    assert all(e.line == 1 for e in report.errors)


def test_skip_invalid_accepts_the_rest(settings, tmp_path):
    lines = [song(0), {"operation": "dance"}, song(2)]
    report = accept_bulk(settings, BulkSource.from_path(write(tmp_path / "f.jsonl", lines)), skip_invalid=True)
    assert (report.accepted, report.invalid) == (2, 1)
    assert count(settings, Job, Job.bulk_id == report.bulk_id) == 2


def test_running_the_same_file_again_accepts_nothing_new(settings, tmp_path):
    path = write(tmp_path / "f.jsonl", [song(n) for n in range(20)])
    first = accept_bulk(settings, BulkSource.from_path(path), chunk_size=7)
    again = accept_bulk(settings, BulkSource.from_path(path), chunk_size=7)
    assert (first.accepted, first.resumed) == (20, False)
    assert (again.accepted, again.already_accepted, again.resumed, again.bulk_id) == (0, 20, True, first.bulk_id)
    assert count(settings, Job) == 20


def test_an_interrupted_run_is_resumed_into_the_same_batch(settings, tmp_path):
    lines = [song(n, key=f"line-{n}") for n in range(100)]
    partial = accept_bulk(settings, BulkSource.from_path(write(tmp_path / "part.jsonl", lines[:40])))
    with open_session(settings) as s:  # an earlier job already got going: it is not enqueued again
        started = s.scalar(select(Job.id).where(Job.bulk_id == partial.bulk_id).limit(1))
        assert transition(s, started, JobStatus.SUBMITTING, attempts=1)
        s.commit()
    full = accept_bulk(settings, BulkSource.from_path(write(tmp_path / "full.jsonl", lines)), chunk_size=30)

    assert (full.bulk_id, full.resumed, full.accepted, full.already_accepted) == (partial.bulk_id, True, 60, 40)
    assert full.requeued == 39  # accepted before, still queued and never tried: maybe never enqueued
    assert count(settings, Job) == 100
    with open_session(settings) as s:
        batch = s.get(BulkBatch, full.bulk_id)
        assert batch.total == 100
        keys = set(s.scalars(select(BulkLine.key).where(BulkLine.bulk_id == full.bulk_id)))
    assert keys == {f"line-{n}" for n in range(100)}


def test_identical_lines_without_a_key_count_once_and_keys_make_them_distinct(settings, tmp_path):
    report = accept_bulk(settings, BulkSource.from_path(write(tmp_path / "dup.jsonl", [
        song(1), {"params": song(1)["params"], "operation": "music"},  # same line, keys in another order
        song(1, key="a"), song(1, key="b"),
    ])))
    assert (report.accepted, report.duplicates) == (3, 1)


def test_a_batch_is_one_transaction_per_chunk_not_per_row(settings, tmp_path):
    path = write(tmp_path / "f.jsonl", [song(n) for n in range(1200)])
    commits = []
    listener = lambda conn: commits.append(1)  # noqa: E731
    event.listen(get_engine(settings), "commit", listener)
    try:
        report = accept_bulk(settings, BulkSource.from_path(path), chunk_size=500)
    finally:
        event.remove(get_engine(settings), "commit", listener)
    assert report.accepted == 1200
    # 3 chunks, each followed by one admission step (its commit and the outbox relay's), plus opening the batch
    # and writing its final total.
    assert len(commits) <= 3 * 3 + 2, len(commits)


def test_ten_thousand_lines_are_accepted_in_seconds_with_flat_memory(settings, tmp_path):
    small = write(tmp_path / "small.jsonl", [song(n, key=f"s{n}") for n in range(2_000)])
    big = write(tmp_path / "big.jsonl", [song(n) for n in range(10_000)])
    tracemalloc.start()
    try:
        accept_bulk(settings, BulkSource.from_path(small))
        small_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        started = time.monotonic()
        report = accept_bulk(settings, BulkSource.from_path(big))
        elapsed = time.monotonic() - started
        big_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.accepted == 10_000 and count(settings, Job) == 12_000
    assert elapsed < 45, f"10,000 lines took {elapsed:.1f}s"  # about 10 s here under tracemalloc
    # Five times the lines, about the same peak: the file is streamed and each chunk's rows are let go.
    assert big_peak < small_peak * 1.5, (small_peak, big_peak)


def test_rate_is_recorded_for_the_limiter(settings, tmp_path):
    report = accept_bulk(settings, BulkSource.from_path(write(tmp_path / "f.jsonl", [song(1)])), rate=2.5)
    with open_session(settings) as s:
        assert bulk_rate(s, report.bulk_id) == 2.5
        job = s.scalars(select(Job).where(Job.bulk_id == report.bulk_id)).one()
        assert job_rate(s, job) == 2.5
    for bad in (0, -1.0):
        with pytest.raises(ValidationError):
            accept_bulk(settings, BulkSource.from_path(tmp_path / "f.jsonl"), rate=bad)


def test_progress_counts_lines_by_state_and_knows_when_it_is_finished(settings, tmp_path):
    report = accept_bulk(settings, BulkSource.from_path(write(tmp_path / "f.jsonl", [song(n) for n in range(4)])),
                         name="four")
    with open_session(settings) as s:
        ids = list(s.scalars(select(Job.id).where(Job.bulk_id == report.bulk_id).order_by(Job.id)))
        transition(s, ids[0], JobStatus.SUBMITTING)
        transition(s, ids[0], JobStatus.SUBMITTED)
        transition(s, ids[1], JobStatus.SUBMITTING)
        transition(s, ids[1], JobStatus.SUCCEEDED)
        transition(s, ids[2], JobStatus.FAILED, error="x")
        s.commit()
        progress = bulk_progress(s, report.bulk_id)
    assert progress is not None
    assert {k: progress[k] for k in ("name", "total", "accepted", "queued", "running", "succeeded", "failed")} == {
        "name": "four", "total": 4, "accepted": 4, "queued": 1, "running": 1, "succeeded": 1, "failed": 1}
    assert progress["finished"] is False


def test_callback_url_of_the_batch_is_checked(settings, tmp_path):
    with pytest.raises(ValidationError) as info:
        accept_bulk(settings, BulkSource.from_path(write(tmp_path / "f.jsonl", [song(1)])),
                    callback_url="http://localhost:9/x")
    assert info.value.field == "callback_url"


def test_two_runs_of_one_file_at_once_make_each_job_once(settings, tmp_path):
    path = write(tmp_path / "f.jsonl", [song(n) for n in range(300)])
    reports = []
    runs = [threading.Thread(target=lambda: reports.append(accept_bulk(settings, BulkSource.from_path(path),
                                                                      chunk_size=50)))
            for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert count(settings, Job) == 300 == count(settings, BulkLine)
    assert sum(r.accepted for r in reports) == 300

"""`hookline bulk` in-process (click's runner) on a real database and the embedded broker."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from shared.cli.producer import bulk
from shared.cli.watch import watch
from shared.db import open_session
from shared.models import Job
from shared.states import JobStatus, transition


@pytest.fixture
def run(settings, base_env, monkeypatch):
    for name, value in base_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOOKLINE_CALLBACK_ALLOWLIST", "127.0.0.1")

    def invoke(command, *args, stdin=None):
        return CliRunner().invoke(command, list(args), input=stdin, catch_exceptions=False)

    return invoke


def lines(*items) -> str:
    return "".join(json.dumps(item) + "\n" for item in items)


def lyric(n: int) -> dict:
    return {"operation": "lyrics", "params": {"prompt": f"topic {n}"}}


def jobs(settings) -> int:
    with open_session(settings) as s:
        return int(s.scalar(select(func.count(Job.id))) or 0)


def test_three_bad_lines_reported_nothing_enqueued_exit_1(run, settings, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(lines(lyric(1), {"operation": "dance"}, lyric(3), {"operation": "lyrics", "params": {}},
                          {"operation": "music", "params": {"mv": 9, "gpt_description_prompt": "x"}}))
    human = run(bulk, str(path))
    assert human.exit_code == 1
    assert "line 2: operation: unknown operation 'dance'" in human.stderr
    assert "line 4: params.prompt:" in human.stderr and "line 5: params.mv:" in human.stderr
    assert "nothing was enqueued" in human.stderr

    machine = run(bulk, str(path), "--json")
    assert machine.exit_code == 1
    report = json.loads(machine.stdout)
    assert [e["line"] for e in report["errors"]] == [2, 4, 5] and report["bulk_id"] is None
    assert jobs(settings) == 0


def test_file_is_accepted_and_a_rerun_adds_nothing(run, settings, tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_text(lines(*(lyric(n) for n in range(12))))
    first = run(bulk, str(path), "--json", "--rate", "4", "--callback-url", "http://127.0.0.1:9/done")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert (report["accepted"], report["rate"]) == (12, 4.0)
    again = json.loads(run(bulk, str(path), "--json").stdout)
    assert (again["bulk_id"], again["accepted"], again["already_accepted"]) == (report["bulk_id"], 0, 12)
    plain = run(bulk, str(path))
    assert plain.stdout.strip() == report["bulk_id"] and "12 accepted earlier" in plain.stderr
    assert jobs(settings) == 12


def test_skip_invalid_and_stdin(run, settings):
    result = run(bulk, "-", "--skip-invalid", "--json", stdin=lines(lyric(1), {"operation": "x"}, lyric(2)))
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert (report["accepted"], report["invalid"]) == (2, 1)


def test_bad_options_are_usage_errors(run, tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_text(lines(lyric(1)))
    assert run(bulk, str(path), "--rate", "0").exit_code == 2
    assert run(bulk, str(path), "--callback-url", "http://10.0.0.1/").exit_code == 2
    assert run(bulk, str(tmp_path / "missing.jsonl")).exit_code == 2


def test_wait_ends_with_a_summary_and_fails_on_failed_lines(run, settings, tmp_path):
    path = tmp_path / "two.jsonl"
    path.write_text(lines(lyric(1), lyric(2)))
    bulk_id = json.loads(run(bulk, str(path), "--json").stdout)["bulk_id"]
    with open_session(settings) as s:  # as the workers would: one succeeds, one fails
        first, second = s.scalars(select(Job.id).where(Job.bulk_id == bulk_id)).all()
        transition(s, first, JobStatus.SUBMITTING)
        transition(s, first, JobStatus.SUCCEEDED)
        transition(s, second, JobStatus.FAILED, error="upstream rejected: too long")
        s.commit()
    waited = run(bulk, str(path), "--wait", "--timeout", "10")
    assert waited.exit_code == 1
    assert "failed" in waited.stdout and "upstream rejected: too long" in waited.stdout
    result = json.loads(run(bulk, str(path), "--wait", "--json", "--timeout", "10").stdout)
    assert result["progress"]["finished"] and (result["progress"]["succeeded"], result["progress"]["failed"]) == (1, 1)


def test_watch_shows_in_flight_work(run, tmp_path, monkeypatch):
    path = tmp_path / "ok.jsonl"
    path.write_text(lines(lyric(1), lyric(2)))
    bulk_id = json.loads(run(bulk, str(path), "--json").stdout)["bulk_id"]
    snapshot = json.loads(run(watch, "--json").stdout)
    assert snapshot["jobs"]["queued"] == 2 and [b["id"] for b in snapshot["bulk"]] == [bulk_id]
    monkeypatch.setenv("COLUMNS", "160")  # wide enough for whole ids on one line (at 80 they fold onto two)
    shown = run(watch, "--once")
    assert shown.exit_code == 0 and bulk_id in shown.stdout and "jobs in flight" in shown.stdout

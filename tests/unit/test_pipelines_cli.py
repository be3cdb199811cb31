"""`hookline pipeline …` in-process (click's runner) on a real SQLite database; the queue is a recorder."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from shared.cli.pipeline import pipeline
from shared.models import Job, Pipeline
from tests.unit.pipeline_rows import count, finish, only_job


@pytest.fixture
def cli(settings, base_env, monkeypatch):
    for key, value in base_env.items():
        monkeypatch.setenv(key, value)
    sent: list[str] = []
    monkeypatch.setattr("shared.pipelines.runs.enqueue_jobs", lambda s, ids: sent.extend(ids))
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(pipeline, list(args), catch_exceptions=False)

    invoke.sent = sent  # type: ignore[attr-defined]
    return invoke


def test_validate_a_bundled_example(cli):
    result = cli("validate", "long-song")
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == ("ok: 8 steps, in order: song -> extend -> full_song -> full_wav -> "
                                             "full_timing -> voice -> second_song -> second_wav")
    assert cli("examples").output.split() == ["long-song"]


def test_run_with_errors_lists_every_one_and_sends_nothing(cli, settings, tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("steps:\n  song: {op: generate, params: {tags: pop}}\n  w: {op: wav, from: song, pick: 9x}\n")
    result = cli("run", str(spec), "--json")
    assert result.exit_code == 2
    assert json.loads(result.output) == {"errors": [
        {"where": "step song", "field": "params.prompt", "message": "prompt is required for music"},
        {"where": "step w", "field": "pick", "message": "must be a clip index (0, 1, …), longest or each; got '9x'"},
    ]}
    text = cli("run", str(spec))
    assert text.exit_code == 2 and "step w: pick:" in text.output
    assert (count(settings, Pipeline), count(settings, Job), cli.sent) == (0, 0, [])


def test_run_with_set_then_status_retry_and_cancel(cli, settings):
    result = cli("run", "long-song", "--set", "continue_at=90", "--set", "voice.name=Quay voice", "--json")
    assert result.exit_code == 0, result.output
    pipeline_id = json.loads(result.output)["id"]
    song = only_job(settings, pipeline_id, "song")
    assert cli.sent == [song.id]

    finish(settings, song.id, 70.0, 71.5)  # continue_at 90 is past the 70 s clip: extend fails before sending
    from shared.pipelines import advance_pipeline

    advance_pipeline(settings, pipeline_id)
    view = json.loads(cli("status", pipeline_id, "--json").output)
    steps = {s["name"]: s for s in view["steps"]}
    assert steps["extend"]["status"] == "failed" and "continue_at 90 is past the end" in steps["extend"]["reason"]
    assert steps["full_wav"]["status"] == "skipped"
    assert only_job(settings, pipeline_id, "voice").params["name"] == "Quay voice"
    human = cli("status", pipeline_id).output
    assert f"pipeline {pipeline_id}  long-song  running" in human and "reason: params.continue_at" in human

    retried = cli("retry", pipeline_id, "--set", "extend.continue_at=45", "--json")
    assert retried.exit_code == 0, retried.output
    (new_job,) = json.loads(retried.output)["jobs"]
    assert only_job(settings, pipeline_id, "extend").params["continue_at"] == 45 and new_job in cli.sent

    canceled = json.loads(cli("cancel", pipeline_id, "--json").output)
    assert set(canceled["canceled_jobs"]) == {new_job, only_job(settings, pipeline_id, "voice").id}
    assert json.loads(cli("status", pipeline_id, "--json").output)["status"] == "canceled"


def test_set_needs_key_equals_value(cli):
    result = CliRunner().invoke(pipeline, ["validate", "long-song", "--set", "continue_at"])
    assert result.exit_code == 2 and "expected var=value or step.param=value" in result.output

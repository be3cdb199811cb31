"""Unbounded paid work is refused before anything is written or sent (issue 11, finding 3): steps per spec, fan-out
per `each` (at parse time in the estimate, at dispatch time for real), lines per bulk file, prompt/tags/title
lengths; and the cost estimate of a pipeline or bulk file, checked against the remaining daily budgets and shown by
`pipeline validate`, `bulk --dry-run` and the POST answers."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from shared.apikeys import create_api_key
from shared.bulk.accept import accept_bulk, validate_bulk
from shared.bulk.source import BulkSource
from shared.cli.pipeline import pipeline
from shared.cli.producer import bulk
from shared.cometapi import price_for
from shared.db import open_session
from shared.errors import ValidationError
from shared.jobs.ledger import OverBudget
from shared.models import Attempt, BulkBatch, BulkLine, Job, Pipeline, PipelineStep, utcnow
from shared.pipelines import SpecInvalid, advance_pipeline, create_pipeline, parse_spec
from shared.pipelines.estimate import estimate_spec
from shared.pipelines.spec import SpecLimits
from shared.producer import submit_job, validate_job
from tests.unit.api_clients import api_client, assert_matches, bearer
from tests.unit.pipeline_rows import SONG, finish, jobs_of, only_job, steps_of

EXT = {"op": "extend", "from": "song", "params": {"continue_at": 3, "title": "More", "tags": "pop", "prompt": "x"}}
WORDS = {"op": "lyrics", "params": {"prompt": "a lighthouse"}}
KNOWN = {"steps": {"song": SONG, "ext": EXT, "words": WORDS}}  # a create, an extend, a lyrics call


def rows(settings, model) -> int:
    with open_session(settings) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def nothing_written(settings) -> bool:
    return all(rows(settings, model) == 0 for model in (Pipeline, PipelineStep, Job, BulkBatch, BulkLine))


@pytest.fixture
def enqueued(monkeypatch) -> list[str]:
    sent: list[str] = []
    monkeypatch.setattr("shared.pipelines.runs.enqueue_jobs", lambda settings, ids: sent.extend(ids))
    monkeypatch.setattr("shared.producer.enqueue_jobs", lambda settings, ids: sent.extend(ids))
    return sent


def many_steps(n: int) -> dict:
    return {"steps": {f"w{i}": WORDS for i in range(n)}}


def lines_file(tmp_path, *items, name="f.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


def lyric(n: int, prompt: str | None = None) -> dict:
    return {"operation": "lyrics", "params": {"prompt": prompt or f"topic {n}"}}


def spend_today(settings, usd: float, api_key_id: str | None = None) -> None:
    """A charged attempt of ``usd`` now (a job that was paid for today)."""
    with open_session(settings) as s:
        job = Job(operation="lyrics", params={"prompt": "x"}, status="submitted", api_key_id=api_key_id)
        s.add(job)
        s.flush()
        s.add(Attempt(job_id=job.id, attempt_no=1, operation="lyrics", endpoint="lyrics", outcome="accepted",
                      cost_usd=usd, started_at=utcnow(), api_key_id=api_key_id))
        s.commit()


# --- limits -----------------------------------------------------------------------------------------------------


def test_an_over_long_spec_is_refused_with_nothing_written(settings, enqueued):
    with pytest.raises(SpecInvalid, match="51 steps; a pipeline may have at most 50") as caught:
        create_pipeline(settings, many_steps(51))
    assert caught.value.errors[0].field == "steps"
    assert rows(settings, Pipeline) == rows(settings, Job) == 0 and enqueued == []
    raised = settings.with_overrides(max_pipeline_steps=60)
    create_pipeline(raised, many_steps(51))  # the limit is the user's to raise
    assert rows(settings, Job) == 51


def test_a_huge_prompt_line_is_refused_naming_the_field_and_the_limit(settings, tmp_path, enqueued):
    small = settings.with_overrides(max_prompt_chars=1000)
    # 500 KB: under the bulk reader's own cap on a line's bytes, so the prompt limit is what refuses it.
    path = lines_file(tmp_path, lyric(1), lyric(2, prompt="x" * 500_000), lyric(3, prompt="y" * 2_000_000))
    report = accept_bulk(small, BulkSource.from_path(path))
    first, second = report.errors
    assert (first.line, first.field) == (2, "params.prompt")
    assert "500000 characters; the limit is 1000" in first.message and "HOOKLINE_MAX_PROMPT_CHARS" in first.message
    assert second.line == 3  # 2 MB: refused too (by the line's byte cap, or by the prompt limit)
    assert report.bulk_id is None and nothing_written(settings) and enqueued == []


@pytest.mark.parametrize(("field", "setting"), [("tags", "max_tags_chars"), ("title", "max_title_chars")])
def test_tags_and_title_have_limits_too(settings, field, setting):
    params = {"prompt": "[Verse] la", "tags": "pop", "title": "T", "mv": "chirp-auk", field: "y" * 50}
    limits = SpecLimits.of(settings.with_overrides(**{setting: 10})).text
    with pytest.raises(ValidationError, match="50 characters; the limit is 10") as caught:
        validate_job("music", params, text_limits=limits)
    assert caught.value.field == f"params.{field}"
    assert validate_job("music", params)  # within the defaults


def test_a_long_prompt_in_a_spec_is_refused_before_anything_is_written(settings, enqueued):
    spec = {"steps": {"words": {"op": "lyrics", "params": {"prompt": "x" * 20_001}}}}
    with pytest.raises(SpecInvalid, match="params.prompt"):
        create_pipeline(settings.with_overrides(max_prompt_chars=20_000), spec)
    assert nothing_written(settings)


def test_a_bulk_file_over_the_line_limit_is_refused_whole(settings, tmp_path, enqueued):
    path = lines_file(tmp_path, *[lyric(n) for n in range(4)])
    with pytest.raises(ValidationError, match="more than 3 lines") as caught:
        accept_bulk(settings.with_overrides(max_bulk_lines=3), BulkSource.from_path(path))
    assert caught.value.field == "file" and nothing_written(settings) and enqueued == []


def test_fan_out_over_the_cap_fails_the_step_at_dispatch_and_starts_no_job(settings, enqueued):
    one = settings.with_overrides(max_fan_out=1)
    pipeline_id = create_pipeline(one, {"steps": {"song": SONG, "ext": {**EXT, "pick": "each"}}})
    finish(one, only_job(one, pipeline_id, "song").id, 6.0, 7.5)  # two clips: a fan-out of 2
    assert advance_pipeline(one, pipeline_id) == []
    status, reason = steps_of(one, pipeline_id)["ext"][:2]
    assert status == "failed" and "would start 2 jobs" in reason and "HOOKLINE_MAX_FAN_OUT" in reason
    assert jobs_of(one, pipeline_id, "ext") == []


# --- estimates --------------------------------------------------------------------------------------------------


def test_the_estimate_of_a_known_spec_is_the_sum_of_its_prices():
    estimate = estimate_spec(parse_spec(KNOWN), 10)
    assert estimate.usd == pytest.approx(0.144 + 0.04 + 0.02)  # music create, extend, lyrics (seed 000)
    assert estimate.usd == pytest.approx(price_for("music", {}) + price_for("music", {"task": "extend"})
                                         + price_for("lyrics", {}))
    assert estimate.note is None


def test_a_fan_out_is_counted_at_its_cap_and_says_so():
    estimate = estimate_spec(parse_spec({"steps": {"song": SONG, "ext": {**EXT, "pick": "each"}}}), 7)
    assert estimate.usd == pytest.approx(0.144 + 7 * 0.04)
    assert "worst case" in (estimate.note or "") and "7" in (estimate.note or "")


def test_a_bulk_estimate_sums_its_lines(settings, tmp_path):
    path = lines_file(tmp_path, lyric(1), lyric(2), {"pipeline": KNOWN})
    assert validate_bulk(settings, BulkSource.from_path(path)).estimate.usd == pytest.approx(0.02 * 2 + 0.204)


# --- budgets ----------------------------------------------------------------------------------------------------


def test_a_pipeline_over_the_system_budget_is_refused_with_nothing_written_or_sent(settings, enqueued):
    capped = settings.with_overrides(budget_usd_per_day=1.0)
    spend_today(capped, 0.9)
    with pytest.raises(OverBudget, match=r"\$0\.204.*\$0\.100") as caught:
        create_pipeline(capped, KNOWN)
    assert caught.value.remaining_usd == pytest.approx(0.1)
    assert rows(settings, Pipeline) == 0 and rows(settings, Job) == 1 and enqueued == []  # the one paid earlier
    create_pipeline(capped, {"steps": {"words": WORDS}})  # $0.02 fits
    assert len(enqueued) == 1


def test_a_bulk_file_over_a_keys_budget_is_refused_and_a_rerun_counts_only_new_lines(settings, tmp_path, enqueued):
    with open_session(settings) as s:
        key = create_api_key(s, settings, "acme", 0.05)
        s.commit()
    path = lines_file(tmp_path, lyric(1), lyric(2), lyric(3))  # $0.06
    with pytest.raises(OverBudget, match="API key 'acme' budget"):
        accept_bulk(settings, BulkSource.from_path(path), owner=key.id, api_key_id=key.id)
    assert nothing_written(settings) and enqueued == []
    first = lines_file(tmp_path, lyric(1), lyric(2), name="first.jsonl")
    assert accept_bulk(settings, BulkSource.from_path(first), owner=key.id, api_key_id=key.id).accepted == 2
    report = accept_bulk(settings, BulkSource.from_path(path), owner=key.id, api_key_id=key.id)  # only line 3 new
    assert report.accepted == 1 and report.estimate.usd == pytest.approx(0.02)


# --- where the estimate is shown --------------------------------------------------------------------------------


@pytest.fixture
def env(base_env, monkeypatch):
    for name, value in base_env.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_pipeline_validate_prints_the_estimate(settings, env, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(KNOWN))
    human = CliRunner().invoke(pipeline, ["validate", str(spec)], catch_exceptions=False)
    assert human.exit_code == 0 and "estimated cost: at most $0.204" in human.output
    machine = CliRunner().invoke(pipeline, ["validate", str(spec), "--json"], catch_exceptions=False)
    assert json.loads(machine.output)["estimated_cost_usd"] == pytest.approx(0.204)
    env.setenv("HOOKLINE_MAX_PIPELINE_STEPS", "2")
    refused = CliRunner().invoke(pipeline, ["validate", str(spec)], catch_exceptions=False)
    assert refused.exit_code == 2 and "at most 2" in refused.output


def test_bulk_dry_run_prints_the_estimate_and_writes_nothing(settings, env, tmp_path):
    path = lines_file(tmp_path, lyric(1), {"pipeline": KNOWN})
    human = CliRunner().invoke(bulk, [str(path), "--dry-run"], catch_exceptions=False)
    assert human.exit_code == 0, human.output
    assert "estimated cost: at most $0.224" in human.stderr and "nothing was written" in human.stderr
    machine = CliRunner().invoke(bulk, [str(path), "--dry-run", "--json"], catch_exceptions=False)
    assert json.loads(machine.stdout)["estimated_cost_usd"] == pytest.approx(0.224)
    env.setenv("HOOKLINE_BUDGET_USD_PER_DAY", "0.1")
    over = CliRunner().invoke(bulk, [str(path), "--dry-run"], catch_exceptions=False)
    assert over.exit_code == 1 and "over what HOOKLINE_BUDGET_USD_PER_DAY has left" in over.stderr
    assert nothing_written(settings)


def test_the_api_answers_carry_the_estimate_and_refuse_over_budget(settings):
    client = api_client(settings)
    created = client.post("/v1/pipelines", json={"spec": KNOWN})
    assert created.status_code == 202, created.json
    assert_matches("PipelineCreated", created.json)
    assert created.json["estimated_cost_usd"] == pytest.approx(0.204)
    lines = json.dumps(lyric(1)) + "\n" + json.dumps(lyric(2)) + "\n"
    accepted = client.post("/v1/bulk", data=lines)
    assert accepted.status_code == 202, accepted.json
    assert_matches("BulkAccepted", accepted.json)
    assert accepted.json["estimated_cost_usd"] == pytest.approx(0.04)

    with open_session(settings) as s:
        key = create_api_key(s, settings, "thrifty", 0.1)
        s.commit()
    before = rows(settings, Job), rows(settings, Pipeline), rows(settings, BulkBatch)
    refused = client.post("/v1/pipelines", json={"spec": KNOWN}, headers=bearer(key.key))
    assert refused.status_code == 402 and refused.json["error"]["code"] == "over_budget"
    assert refused.json["error"]["details"][0]["estimated_cost_usd"] == pytest.approx(0.204)
    assert refused.json["error"]["details"][0]["remaining_usd"] == pytest.approx(0.1)
    many = "".join(json.dumps(lyric(n)) + "\n" for n in range(10, 16))  # $0.12
    refused_bulk = client.post("/v1/bulk", data=many, headers=bearer(key.key))
    assert refused_bulk.status_code == 402 and refused_bulk.json["error"]["code"] == "over_budget"
    assert (rows(settings, Job), rows(settings, Pipeline), rows(settings, BulkBatch)) == before


def test_a_direct_job_with_a_huge_prompt_is_refused(settings):
    with pytest.raises(ValidationError, match="params.prompt"):
        submit_job("lyrics", {"prompt": "x" * 20_000}, settings=settings)
    assert rows(settings, Job) == 0

"""Issue 14 against a real sandbox on loopback, in-process (real HTTP, real SQL, no worker process): exports in every
sandbox dialect, open model names, 503, the checks single jobs now get, the balance in `hookline costs`, and the
CLI findings (`submit <op>`, `--param` ids, `up --sandbox`, `watch`, `bulk --help`)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from rich.console import Console

from shared.admission import admit
from shared.cli.main import main
from shared.cli.run import SANDBOX_CLIP_SECONDS, up_environment
from shared.cli.stack import wait_until
from shared.cli.submit_forms import forms
from shared.cli.watch import render_snapshot
from shared.cometapi import price_for
from shared.cometapi.export_paths import forget_families
from shared.db import open_session
from shared.errors import ValidationError
from shared.jobs.ledger import cost_summary
from shared.models import Job
from shared.producer import add_job
from shared.sandbox import start_background_sandbox
from worker.polling import poll_job_once
from worker.reconciling import reconcile_overdue
from worker.submitting import submit_claimed

SONG = {"prompt": "[Verse]\nharbour lights\n[Chorus]\nhold on", "tags": "pop", "title": "T", "mv": "chirp-auk"}
CLIP_SECONDS = 3.0
DIALECTS = ["seed:object", "seed:bare", "seed:url", "seed:task", "act:object", "act:bare", "act:url", "act:task"]


def start(**config: Any):
    return start_background_sandbox({"STEP_SECONDS": 0.2, "CLIP_SECONDS": CLIP_SECONDS, **config})


def new_job(settings, operation: str, params: dict[str, Any]) -> str:
    with open_session(settings) as s:
        job = add_job(s, settings, operation, params)
        s.commit()
    assert job.id in admit(settings).admitted  # only an admitted job is sent (shared.admission)
    return job.id


def job_row(settings, job_id: str) -> Job:
    with open_session(settings) as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def sandbox_log(box) -> list[dict[str, Any]]:
    return requests.get(f"{box.url}_sandbox/requests", timeout=5).json()


def paid_posts(box) -> list[dict[str, Any]]:
    return [r for r in sandbox_log(box) if r["path"].startswith(("/suno/submit/", "/suno/persona/"))]


def finished_song(cfg) -> tuple[str, dict[str, Any]]:
    """A custom song, submitted and then finished by the reconciler's fetches (polling mode): (job id, first clip)."""
    job_id = new_job(cfg, "music", SONG)
    assert submit_claimed(cfg, job_id).outcome == "accepted"

    def done() -> bool:
        if job_row(cfg, job_id).status == "succeeded":
            return True
        reconcile_overdue(cfg, enqueue=lambda _: None)
        return False

    wait_until(done, timeout=30, interval=0.3, what="song succeeded")
    with open_session(cfg) as s:
        job = s.get(Job, job_id)
        assert job is not None
        clip = {"id": job.clips[0].clip_id, "duration": job.clips[0].duration, "model_name": job.clips[0].model_name}
    return job_id, clip


def run_export(cfg, operation: str, clip_id: str) -> Job:
    job_id = new_job(cfg, operation, {"clip_id": clip_id})
    outcome = submit_claimed(cfg, job_id).outcome
    deadline = time.monotonic() + 30
    while outcome == "poll" and time.monotonic() < deadline:
        time.sleep(0.1)
        outcome = poll_job_once(cfg, job_id).outcome
        outcome = "poll" if outcome == "again" else outcome
    return job_row(cfg, job_id)


@pytest.fixture
def polling(settings):
    """Settings in polling mode (no receiver runs here), pointed at a sandbox by each test."""
    return settings.with_overrides(public_url=None, reconcile_interval=0.2, retry_base=0.01)


# --- 1. exports: both path families, all four answer shapes ------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_export_succeeds_against_every_sandbox_dialect(polling, dialect: str) -> None:
    forget_families()
    box = start(DIALECT=dialect)
    try:
        cfg = polling.with_overrides(base_url=box.url.rstrip("/"))
        _, clip = finished_song(cfg)
        jobs = {op: run_export(cfg, op, clip["id"]) for op in ("wav", "midi", "mp4", "timing")}
        failed = {op: (job.status, job.error) for op, job in jobs.items() if job.status != "succeeded"}
        assert not failed, failed
        answers = {op: json.dumps(job.result) for op, job in jobs.items()}
        assert f"/cdn/wav/{clip['id']}.wav" in answers["wav"] and f"/cdn/video/{clip['id']}.mp4" in answers["mp4"]
        assert "aligned_words" in answers["timing"] and "harbour" in answers["timing"]
        assert ".mid" in answers["midi"] or "instruments" in answers["midi"]
        paths, shape = dialect.split(":")
        exports = [r for r in sandbox_log(box) if r["method"] == "GET" and "/fetch/" not in r["path"]
                   and r["path"].startswith("/suno/")]
        wrong = [r for r in exports if r["path"].startswith("/suno/act/") != (paths == "act")]
        assert len(wrong) <= 1 and all(r["status"] == 404 for r in wrong)  # auto: one free 404, then remembered
        if shape == "task":  # the task id was followed through /suno/fetch/<id>
            assert any(r["path"].startswith("/suno/fetch/") and r["path"] != "/suno/fetch/" for r in sandbox_log(box))
    finally:
        box.stop()


# --- 2. open model names, aliases ------------------------------------------------------------------------------


def test_an_unknown_mv_is_sent_as_given_and_warned_about_and_its_503_fails_at_once(polling) -> None:
    box = start()
    try:
        cfg = polling.with_overrides(base_url=box.url.rstrip("/"))
        job_id = new_job(cfg, "music", {**SONG, "mv": "chirp-v5-5"})
        assert any("unknown mv 'chirp-v5-5': sent as given" in w for w in job_row(cfg, job_id).warnings or [])
        started = time.monotonic()
        assert submit_claimed(cfg, job_id).outcome == "failed"
        assert time.monotonic() - started < 5
        job = job_row(cfg, job_id)
        assert job.status == "failed" and "no available channel" in (job.error or "")
        assert "choose another mv, or change the account group" in (job.error or "")
        sent = [r for r in sandbox_log(box) if r["path"] == "/suno/submit/music"]
        assert len(sent) == 1 and sent[0]["json"]["mv"] == "chirp-v5-5" and sent[0]["status"] == 503  # never retried
        with open_session(cfg) as s:
            from webhook.dashboard.job_details import timeline

            row = s.get(Job, job_id)
            assert any(e.title == "warning" and "chirp-v5-5" in e.detail for e in timeline(row, [], []))
    finally:
        box.stop()


@pytest.mark.parametrize(("aliases", "sent"), [((), "chirp-v3.5"), ((("chirp-v3.5", "chirp-v3-5"),), "chirp-v3-5")])
def test_dotted_names_are_sent_as_written_unless_an_alias_maps_them(polling, aliases, sent: str) -> None:
    box = start()
    try:
        cfg = polling.with_overrides(base_url=box.url.rstrip("/"), mv_aliases=aliases)
        job_id = new_job(cfg, "music", {**SONG, "mv": "chirp-v3.5"})
        assert job_row(cfg, job_id).warnings is None
        assert submit_claimed(cfg, job_id).outcome == "accepted"
        assert [r["json"]["mv"] for r in sandbox_log(box) if r["path"] == "/suno/submit/music"] == [sent]
    finally:
        box.stop()


def test_mv_aliases_setting_is_read_and_a_bad_one_names_the_variable() -> None:
    from shared.config import load_settings
    from shared.errors import ConfigError

    settings = load_settings({"COMETAPI_MV_ALIASES": "chirp-v3.5=chirp-v3-5, chirp-v3.0=chirp-v3-0",
                              "COMETAPI_EXPORT_PATHS": "ACT"})
    assert settings.mv_aliases == (("chirp-v3.5", "chirp-v3-5"), ("chirp-v3.0", "chirp-v3-0"))
    assert settings.export_paths == "act" and load_settings({}).export_paths == "auto"
    for name, value in (("COMETAPI_MV_ALIASES", "chirp-v3.5"), ("COMETAPI_EXPORT_PATHS", "both")):
        with pytest.raises(ConfigError, match=name):
            load_settings({name: value})


# --- 5. the checks pipelines make, for single jobs -------------------------------------------------------------


def test_single_jobs_get_the_pipelines_checks_before_paying(polling) -> None:
    box = start()
    try:
        cfg = polling.with_overrides(base_url=box.url.rstrip("/"))
        _, clip = finished_song(cfg)
        extend = {"task": "extend", "continue_clip_id": clip["id"], "mv": "chirp-auk"}
        with pytest.raises(ValidationError) as caught:
            new_job(cfg, "music", {**extend, "continue_at": 60})
        assert caught.value.field == "params.continue_at" and "past the end" in str(caught.value)
        with pytest.raises(ValidationError):
            new_job(cfg, "music", {**extend, "continue_at": "60"})  # a string is checked as the number it holds
        assert job_row(cfg, new_job(cfg, "music", {**extend, "continue_at": "2"})).params["continue_at"] == "2"
        posted = len(paid_posts(box))

        v4_song = new_job(cfg, "music", {**SONG, "mv": "chirp-v4"})
        submit_claimed(cfg, v4_song)
        wait_until(lambda: reconcile_overdue(cfg, enqueue=lambda _: None) is not None
                   and job_row(cfg, v4_song).status == "succeeded", timeout=30, interval=0.3)
        with open_session(cfg) as s:
            row = s.get(Job, v4_song)
            assert row is not None
            v4_clip = row.clips[0].clip_id
        with pytest.raises(ValidationError) as refused:
            new_job(cfg, "persona", {"root_clip_id": v4_clip})
        assert refused.value.field == "params.root_clip_id" and "chirp-auk" in str(refused.value)
        assert new_job(cfg, "persona", {"root_clip_id": clip["id"]})  # a chirp-auk song may be a persona's source
        with open_session(cfg) as s:  # a persona made (elsewhere, or before this check) from the v4 song
            s.add(Job(operation="persona", params={"root_clip_id": v4_clip}, status="succeeded",
                      upstream_task_id="persona-of-a-v4-song"))
            s.commit()
        sing = {**SONG, "task": "artist_consistency", "mv": "chirp-v4-tau", "artist_clip_id": clip["id"]}
        with pytest.raises(ValidationError) as unfit:
            new_job(cfg, "music", {**sing, "persona_id": "persona-of-a-v4-song"})
        assert unfit.value.field == "params.persona_id" and "chirp-auk" in str(unfit.value)
        assert new_job(cfg, "music", {**sing, "persona_id": "a-persona-we-never-saw"})  # the upstream judges those
        # Nothing refused was sent: the only new upstream POST is the v4 song's submit.
        assert len(paid_posts(box)) == posted + 1
    finally:
        box.stop()


# --- 6. balance, and costs that count only charged calls ------------------------------------------------------


def cli(env: dict[str, str], *args: str):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_costs_shows_the_balance_and_does_not_count_free_calls(polling, base_env) -> None:
    box = start()
    try:
        cfg = polling.with_overrides(base_url=box.url.rstrip("/"))
        _, clip = finished_song(cfg)
        assert run_export(cfg, "wav", clip["id"]).status == "succeeded"
        with open_session(cfg) as s:
            summary = cost_summary(s)
        assert summary["calls"] == 1 and summary["free_calls"] >= 1 and summary["total_usd"] == pytest.approx(0.144)
        env = {**base_env, "COMETAPI_BASE_URL": box.url.rstrip("/")}
        shown = json.loads(cli(env, "costs", "--json").stdout)
        assert shown["calls"] == 1 and shown["balance"]["remaining_usd"] == pytest.approx(10.0 - 0.144)
        text = cli(env, "costs").stdout
        assert "over 1 charged calls" in text and "balance: $9.856 left" in text
    finally:
        box.stop()
    # Nothing answers the balance query: "unknown", never an error.
    gone = cli({**base_env, "COMETAPI_BASE_URL": box.url.rstrip("/")}, "costs")
    assert gone.exit_code == 0 and "balance: unknown (" in gone.output
    unset = cli({**base_env, "COMETAPI_BASE_URL": "https://api.cometapi.com"}, "costs")
    assert unset.exit_code == 0 and "balance: unknown (COMETAPI_KEY is unset)" in unset.output


def test_upload_extend_is_priced_as_an_extend() -> None:
    assert price_for("music", {"task": "upload_extend"}) == price_for("music", {"task": "extend"}) == 0.04


# --- 7. `hookline submit <op>` ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [form.name for form in forms()])
def test_every_operation_and_music_mode_has_a_submit_command_with_an_example(name: str) -> None:
    result = CliRunner().invoke(main, ["submit", name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output and f"hookline submit {name} " in result.output
    assert "--param" in result.output and "--wait" in result.output


def test_submit_flags_are_the_upstream_field_names() -> None:
    helps = {name: CliRunner().invoke(main, ["submit", name, "--help"]).output
             for name in ("upload", "concat", "persona", "udio", "extend", "gen-stem", "timing", "separate")}
    assert "--audio-url" in helps["upload"] and "--is-infill / --no-is-infill" in helps["concat"]
    assert "--root-clip-id" in helps["persona"] and "--clips" in helps["persona"]
    assert "--lyrics-type" in helps["udio"] and "gen_params" in helps["udio"]
    assert "--continue-clip-id" in helps["extend"] and "--stem-task" in helps["gen-stem"]
    assert "--clip-id" in helps["timing"] and "--mode" in helps["separate"]
    listed = CliRunner().invoke(main, ["submit", "--help"]).output
    for name in ("lyrics", "music", "upload", "concat", "separate", "persona", "wav", "midi", "mp4", "timing",
                 "udio", "inspiration", "custom", "instrumental", "extend", "upload-extend", "artist-consistency",
                 "underpainting", "overpainting", "infill", "gen-stem"):
        assert f"  {name} " in listed, name


def test_submitted_ids_stay_text_and_flags_build_the_upstream_body(settings, base_env) -> None:
    env = dict(base_env)
    by_param = cli(env, "submit", "music", "--param", "task=extend", "--param", "continue_clip_id=12345",
                   "--param", "continue_at=60", "--json")
    by_flag = cli(env, "submit", "extend", "--continue-clip-id", "12345", "--continue-at", "30", "--json")
    gen = cli(env, "submit", "udio", "--prompt", "rock", "--lyrics-type", "generate", "--model-type",
              "udio32-v1.5", "--json")
    persona = cli(env, "submit", "persona", "--root-clip-id", "c1", "--clips", "c1", "--clips", "c2", "--json")
    params = {name: job_row(settings, json.loads(result.stdout)["id"]).params
              for name, result in (("param", by_param), ("flag", by_flag), ("udio", gen), ("persona", persona))}
    assert params["param"] == {"task": "extend", "continue_clip_id": "12345", "continue_at": 60}
    assert params["flag"] == {"task": "extend", "continue_clip_id": "12345", "continue_at": 30}
    assert params["udio"]["gen_params"]["model_type"] == "udio32-v1.5"
    assert params["persona"] == {"root_clip_id": "c1", "clips": ["c1", "c2"]}
    bad = CliRunner().invoke(main, ["submit", "extend", "--continue-at", "5"], env=env)
    assert bad.exit_code == 2 and "continue_clip_id" in bad.output and "Traceback" not in bad.output


# --- 8-10. up --sandbox, watch, bulk --help, sandbox defaults -----------------------------------------------------


def test_up_with_the_local_sandbox_uses_callbacks(settings) -> None:
    env, seen = up_environment(settings.with_overrides(public_url=None, port=8123), with_sandbox=True)
    assert env["HOOKLINE_PUBLIC_URL"] == seen.public_url == "http://127.0.0.1:8123" and not seen.polling_mode
    kept, _ = up_environment(settings.with_overrides(public_url="https://hooks.example"), with_sandbox=True)
    assert "HOOKLINE_PUBLIC_URL" not in kept
    alone, still = up_environment(settings.with_overrides(public_url=None), with_sandbox=False)
    assert "HOOKLINE_PUBLIC_URL" not in alone and still.polling_mode


def test_the_sandbox_commands_clips_are_long_enough_for_the_readmes_extend_at_60_s() -> None:
    from shared.cli.run import sandbox

    default = next(p.default for p in sandbox.params if p.name == "clip_seconds")
    assert default == SANDBOX_CLIP_SECONDS > 60


def test_watch_headers_are_whole_at_80_columns() -> None:
    age = "2026-11-30T00:00:00+00:00"
    snapshot = {
        "jobs": {"queued": 3},
        "admission": {"in_flight": 1, "cap": 3, "window": 20, "blocked": None, "owners": {}, "groups": {},
                      "waiting": []},
        "oldest_jobs": [{"id": "a" * 32, "operation": "music", "status": "submitted",
                                                 "progress": "40%", "created_at": age, "pipeline_id": "b" * 32,
                                                 "bulk_id": None, "priority": 200, "owner": "local",
                                                 "queue": None}],
        "pipelines": [{"id": "c" * 32, "name": "long-song", "steps": {"song": "succeeded"}, "created_at": age}],
        "bulk": [{"id": "d" * 32, "name": "jobs.jsonl", "succeeded": 1, "failed": 0, "canceled": 0, "total": 5,
                  "queued": 2, "running": 2, "cost_usd": 0.1}],
    }
    console = Console(width=80, record=True)
    console.print(render_snapshot(snapshot))
    text = console.export_text()
    for header in ("job", "operation", "status", "progress", "age", "pipeline / bulk", "pipeline", "name", "steps",
                   "batch", "done/total", "queued", "running", "succeeded", "failed", "cost $"):
        assert header in text, header
    assert "…" not in text


def test_bulk_help_documents_the_line_format() -> None:
    shown = CliRunner().invoke(main, ["bulk", "--help"]).output
    assert "operation, params, key, callback_url, pipeline, name" in shown
    assert '{"operation": "music", "params":' in shown



def test_the_balance_query_keeps_the_api_key_out_of_every_log(settings, caplog) -> None:
    from shared.cometapi.balance import query_balance

    key = "sk-balance-0123456789SECRET"
    box = start(API_KEY=key)
    try:
        with caplog.at_level("DEBUG"):
            known = query_balance(settings.with_overrides(base_url=box.url.rstrip("/"), api_key=key))
            wrong = query_balance(settings.with_overrides(base_url=box.url.rstrip("/"), api_key="sk-wrong"))
        assert known.remaining_usd == pytest.approx(10.0) and wrong.remaining_usd is None and "401" in wrong.detail
        # hookline's log formats (text and JSON) redact what urllib3 and werkzeug log of the query string.
        from shared.log_format import JsonFormatter, PlainFormatter

        shown = "\n".join(f.format(r) for r in caplog.records for f in (PlainFormatter(), JsonFormatter()))
        assert "/user/quota?key=[redacted]" in shown and key not in shown and "sk-wrong" not in shown
    finally:
        box.stop()

"""Pipelines end to end on real processes: sandbox, receiver, Celery worker + beat.

The producer side runs in the test (``create_pipeline`` / ``retry_pipeline`` against the stack's database and
broker, as the CLI does); each step's job is submitted by the worker, finished by the sandbox's callbacks, and the
pipeline is advanced by the ``job_finished`` follow-up (and the reconciler's sweep).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from typing import Any

import pytest
import requests

from shared.cli.stack import Stack, wait_until
from shared.pipelines import advance_for_job, create_pipeline, get_pipeline, retry_pipeline
from tests.e2e.driver import artifact_bytes, submits

pytestmark = [pytest.mark.e2e]


def test_the_follow_up_and_the_cli_are_wired():
    from shared.cli.main import main
    from worker.followups import follow_ups

    assert advance_for_job in follow_ups() and "pipeline" in main.commands

SONG = {"op": "generate", "params": {"prompt": "[Verse]\nNeon on the water\n\n[Chorus]\nHold on", "tags": "synthwave",
                                     "title": "Harbour", "mv": "chirp-auk"}}
EXT_PARAMS = {"prompt": "[Bridge]\nRopes let go", "tags": "synthwave", "title": "Harbour (more)"}


def clip_args(seconds: float, faults: dict[str, Any] | None = None) -> list[str]:
    args = ["--step-seconds", "0.3", "--clip-seconds", str(seconds)]
    return [*args, "--faults", json.dumps(faults)] if faults else args


def wait_pipeline(settings, pipeline_id: str, timeout: float = 90.0) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        view = get_pipeline(pipeline_id, settings=settings)
        return view if view["status"] != "running" else None

    try:
        return wait_until(finished, timeout, 0.2, f"pipeline {pipeline_id} finished")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}: {json.dumps(get_pipeline(pipeline_id, settings=settings))}") from None


def steps_by_name(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in view["steps"]}


def music_submits(stack: Stack) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(creates, extends) the sandbox received."""
    sent = [r["json"] for r in submits(stack)]
    return [b for b in sent if "task" not in b], [b for b in sent if b.get("task") == "extend"]


def test_generate_then_extend_each_clip(make_stack, broker_url):
    stack, settings = make_stack(broker_url=broker_url, sandbox_args=clip_args(6))
    pipeline_id = create_pipeline(settings, {"name": "fan", "steps": {
        "song": SONG,
        "ext": {"op": "extend", "from": "song", "pick": "each", "params": {**EXT_PARAMS, "continue_at": 3}},
    }})
    view = wait_pipeline(settings, pipeline_id)

    assert view["status"] == "succeeded", json.dumps(view)
    song, ext = steps_by_name(view)["song"], steps_by_name(view)["ext"]
    assert [j["fan_index"] for j in ext["jobs"]] == [0, 1]
    assert all(j["status"] == "succeeded" for j in ext["jobs"])
    assert len(ext["clips"]) == 4  # two clips per extend task
    creates, extends = music_submits(stack)
    assert len(creates) == 1
    song_task = song["jobs"][0]["upstream_task_id"]
    assert sorted(e["continue_clip_id"] for e in extends) == sorted(c["id"] for c in song["clips"])
    assert {(e["task_id"], e["continue_at"], e["mv"]) for e in extends} == {(song_task, 3, "chirp-auk")}
    assert all(e["notify_hook"].startswith(f"{stack.receiver_url}/hooks/cometapi/") for e in extends)
    assert view["cost_usd"] == pytest.approx(0.144 + 2 * 0.04)


def test_a_step_that_cannot_bind_fails_before_paying_and_retry_reruns_only_it(make_stack):
    stack, settings = make_stack(sandbox_args=clip_args(6))
    pipeline_id = create_pipeline(settings, {"steps": {
        "song": SONG,
        "ext": {"op": "extend", "from": "song", "params": {**EXT_PARAMS, "continue_at": 30}},
        "more": {"op": "extend", "from": "ext", "pick": "longest", "params": {**EXT_PARAMS, "continue_at": 2}},
    }})
    failed = wait_pipeline(settings, pipeline_id)

    steps = steps_by_name(failed)
    assert failed["status"] == "failed"
    assert steps["song"]["status"] == "succeeded"
    assert steps["ext"]["status"] == "failed" and steps["ext"]["jobs"] == []
    assert "continue_at 30 is past the end of clip" in steps["ext"]["reason"]
    assert steps["more"] == {**steps["more"], "status": "skipped",
                             "reason": f"step ext failed: {steps['ext']['reason']}"}
    creates, extends = music_submits(stack)
    assert (len(creates), extends) == (1, [])  # the extend was never sent
    assert failed["cost_usd"] == pytest.approx(0.144)

    retry_pipeline(settings, pipeline_id, overrides={"ext.continue_at": 3})
    done = wait_pipeline(settings, pipeline_id)

    assert done["status"] == "succeeded", json.dumps(done)
    creates, extends = music_submits(stack)
    assert len(creates) == 1 and len(extends) == 2  # the song was not paid for again
    assert steps_by_name(done)["song"]["job_ids"] == steps["song"]["job_ids"]
    longest = max(steps_by_name(done)["ext"]["clips"], key=lambda c: c["duration"])
    assert extends[1]["continue_clip_id"] == longest["id"]
    assert done["cost_usd"] == pytest.approx(0.144 + 2 * 0.04)


def test_an_upstream_failure_skips_dependents_and_retry_reruns_the_failed_step(make_stack):
    stack, settings = make_stack(sandbox_args=clip_args(6, {"fail_rate": 1.0}))
    pipeline_id = create_pipeline(settings, {"steps": {
        "song": SONG,
        "ext": {"op": "extend", "from": "song", "params": {**EXT_PARAMS, "continue_at": 3}},
    }})
    failed = wait_pipeline(settings, pipeline_id)

    steps = steps_by_name(failed)
    (song_job,) = steps["song"]["jobs"]
    assert failed["status"] == "failed" and steps["song"]["status"] == "failed"
    assert song_job["error"].startswith("generation failed")
    assert steps["ext"]["status"] == "skipped"
    assert steps["ext"]["reason"] == f"step song failed: job {song_job['id']} failed: {song_job['error']}"

    requests.post(f"{stack.sandbox_url}/_sandbox/faults", json={}, timeout=10).raise_for_status()
    retry_pipeline(settings, pipeline_id)
    done = wait_pipeline(settings, pipeline_id)

    assert done["status"] == "succeeded", json.dumps(done)
    song = steps_by_name(done)["song"]
    assert song["superseded_job_ids"] == [song_job["id"]] and song["generation"] == 1
    creates, extends = music_submits(stack)
    assert (len(creates), len(extends)) == (2, 1)


def test_cli_runs_a_spec_file_and_waits(make_stack, tmp_path):
    stack, _ = make_stack(sandbox_args=clip_args(6))
    spec = tmp_path / "fan.yaml"
    spec.write_text(json.dumps({"vars": {"at": 30}, "steps": {
        "song": SONG, "ext": {"op": "extend", "from": "song", "params": {**EXT_PARAMS, "continue_at": "${at}"}}}}))
    env = {**os.environ, **stack.env, "COMETAPI_BASE_URL": stack.sandbox_url or ""}
    result = subprocess.run([sys.executable, "-m", "shared.cli", "pipeline", "run", str(spec), "--set", "at=4",
                             "--wait", "--json", "--timeout", "90"], env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    assert view["status"] == "succeeded"
    assert [e["continue_at"] for e in music_submits(stack)[1]] == [4]


def test_long_song_example_end_to_end(make_stack, broker_url):
    stack, settings = make_stack(broker_url=broker_url, sandbox_args=clip_args(70))
    from shared.pipelines import load_spec

    pipeline_id = create_pipeline(settings, load_spec("long-song"))
    view = wait_pipeline(settings, pipeline_id, timeout=180)

    assert view["status"] == "succeeded", json.dumps(view)
    steps = steps_by_name(view)
    assert [s["status"] for s in view["steps"]] == ["succeeded"] * 8
    song_clip = steps["song"]["clips"][0]
    (extend_body,) = music_submits(stack)[1]
    assert (extend_body["continue_clip_id"], extend_body["continue_at"]) == (song_clip["id"], 60)
    (concat_body,) = [r["json"] for r in submits(stack, "/suno/submit/concat")]
    assert concat_body == {"clip_id": steps["extend"]["clips"][0]["id"], "is_infill": False}
    (full_clip,) = steps["full_song"]["clips"][:1]
    assert full_clip["duration"] == pytest.approx(60 + steps["extend"]["clips"][0]["duration"], abs=1.0)
    # The concat length rule, on the real file: decode the downloaded audio of the concatenated clip.
    import mutagen.mp3

    audio = wait_artifact(settings, steps["full_song"]["job_ids"][0], "audio")
    expected_length = 60 + steps["extend"]["clips"][0]["duration"]
    data = artifact_bytes(stack.receiver_url, audio)
    assert mutagen.mp3.MP3(io.BytesIO(data)).info.length == pytest.approx(expected_length, abs=0.3)
    for name in ("full_wav", "full_timing", "second_wav"):
        assert steps[name]["jobs"][0]["result"], name
    persona_id = steps["voice"]["jobs"][0]["result"]["persona_id"]
    second = [r["json"] for r in submits(stack) if r["json"].get("task") == "artist_consistency"]
    assert second == [{**second[0], "persona_id": persona_id, "artist_clip_id": song_clip["id"]}]


def wait_artifact(settings, job_id: str, kind: str, timeout: float = 60.0) -> dict[str, Any]:
    from shared.producer import get_job

    def stored() -> dict[str, Any] | None:
        artifacts = get_job(job_id, settings=settings)["artifacts"]
        return next((a for a in artifacts if a["kind"] == kind and a["status"] == "stored"), None)

    return wait_until(stored, timeout, 0.3, f"a stored {kind} artifact for {job_id}")

"""Bad submissions are refused before any task exists, with a 400 whose message names the field."""

from __future__ import annotations

from typing import Any

import pytest

CUSTOM = {"prompt": "[Verse]\nhello", "tags": "pop", "title": "Hi", "mv": "chirp-v4"}


def test_mv_is_not_required_as_the_docs_never_mark_it_so(sandbox: Any) -> None:
    """The docs list mv in every mode without marking it required; left out, the upstream's default model is used."""
    task_id = sandbox.submit_music({"gpt_description_prompt": "cat"})
    clips = sandbox.wait_for_status(task_id, "COMPLETE")["data"]
    assert clips[0]["model_name"] == "chirp-v4"


def test_a_model_this_upstream_does_not_offer_is_503_no_available_channel(sandbox: Any) -> None:
    response = sandbox.post("suno/submit/music", {"gpt_description_prompt": "cat", "mv": "chirp-v9"})
    assert response.status_code == 503
    assert response.json()["code"] == "error" and "no available channel" in response.json()["message"]
    assert sandbox.get("_sandbox/tasks").json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mv": "chirp-v4"}, "gpt_description_prompt"),
        ({"gpt_description_prompt": "", "mv": "chirp-v4"}, "gpt_description_prompt"),
        ({"gpt_description_prompt": "cat", "mv": "chirp-v4", "make_instrumental": "yes"}, "make_instrumental"),
        ({**CUSTOM, "title": None}, "title"),
        ({**CUSTOM, "tags": 3}, "tags"),
        ({k: v for k, v in CUSTOM.items() if k != "prompt"}, "prompt"),
        ({**CUSTOM, "task": "remix"}, "task"),
        ({**CUSTOM, "task": "extend", "continue_clip_id": "c", "continue_at": 3}, "continue_clip_id"),
        ({**CUSTOM, "task": "extend", "task_id": "t", "continue_at": 3}, "continue_clip_id"),
        (
            {**CUSTOM, "task": "extend", "task_id": "t", "continue_clip_id": "nope", "continue_at": 3},
            "continue_clip_id",
        ),
        ({**CUSTOM, "continue_clip_id": "c", "continue_at": 3}, "task"),
        ({**CUSTOM, "task": "artist_consistency", "persona_id": "p", "artist_clip_id": "c"}, "mv"),
        ({**CUSTOM, "mv": "chirp-auk", "task": "artist_consistency", "artist_clip_id": "c"}, "persona_id"),
        (
            {
                "mv": "chirp-v4",
                "tags": "t",
                "title": "x",
                "task": "underpainting",
                "prompt": "",
                "underpainting_start_s": 0,
                "underpainting_end_s": 1,
            },
            "underpainting_clip_id",
        ),
        (
            {
                "mv": "chirp-v4",
                "tags": "t",
                "title": "x",
                "task": "overpainting",
                "prompt": "",
                "overpainting_clip_id": "c",
                "overpainting_start_s": 0,
                "overpainting_end_s": 1,
            },
            "prompt",
        ),
        ({"mv": "chirp-v4", "continue_clip_id": "c", "infill_end_s": 1}, "continue_clip_id"),
        ({**CUSTOM, "notify_hook": "ftp://example.com/x"}, "notify_hook"),
    ],
)
def test_bad_music_body_names_the_field(sandbox: Any, body: dict[str, Any], field: str) -> None:
    response = sandbox.post("suno/submit/music", body)
    assert response.status_code == 400
    envelope = response.json()
    assert envelope["code"] == "error" and envelope["data"] is None
    assert envelope["message"].startswith(field + ":"), envelope["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"continue_at": 99}, "continue_at"),
        ({"continue_at": -1}, "continue_at"),
        ({"continue_at": "soon"}, "continue_at"),
        ({"task_id": "someone-else"}, "task_id"),
    ],
)
def test_extend_checks_the_referenced_clip(sandbox: Any, change: dict[str, Any], field: str) -> None:
    base = sandbox.complete_song()
    body = {
        **CUSTOM,
        "task": "extend",
        "task_id": base["task_id"],
        "continue_clip_id": base["data"][0]["id"],
        "continue_at": 1,
        **change,
    }
    response = sandbox.post("suno/submit/music", body)
    assert response.status_code == 400
    assert response.json()["message"].startswith(field + ":")


def test_repainting_range_must_be_ordered_and_inside_the_clip(sandbox: Any) -> None:
    clip_id = sandbox.complete_song()["data"][0]["id"]
    body = {
        "mv": "chirp-v4",
        "tags": "t",
        "title": "x",
        "task": "underpainting",
        "prompt": "",
        "underpainting_clip_id": clip_id,
        "underpainting_start_s": 1.5,
        "underpainting_end_s": 1.0,
    }
    backwards = sandbox.post("suno/submit/music", body)
    assert backwards.status_code == 400 and backwards.json()["message"].startswith("underpainting_start_s:")
    too_long = sandbox.post("suno/submit/music", {**body, "underpainting_start_s": 0, "underpainting_end_s": 50})
    assert too_long.status_code == 400 and too_long.json()["message"].startswith("underpainting_end_s:")
    infill = sandbox.post(
        "suno/submit/music", {"mv": "chirp-v4", "continue_clip_id": clip_id, "infill_start_s": 1, "infill_end_s": 1}
    )
    assert infill.status_code == 400 and infill.json()["message"].startswith("infill_start_s:")


def test_clip_that_is_not_complete_cannot_be_extended(sandbox: Any) -> None:
    task_id = sandbox.submit_music({**CUSTOM})
    clip_id = sandbox.wait_for_status(task_id, "IN_PROGRESS", "STREAMING")["data"][0]["id"]
    body = {**CUSTOM, "task": "extend", "task_id": task_id, "continue_clip_id": clip_id, "continue_at": 1}
    response = sandbox.post("suno/submit/music", body)
    assert response.status_code == 400 and "not complete" in response.json()["message"]


def test_non_object_body_and_oversized_prompt(sandbox: Any) -> None:
    assert sandbox.post("suno/submit/music", ["not", "an", "object"]).status_code == 400
    assert sandbox.post("suno/submit/lyrics", {}).json()["message"].startswith("prompt:")
    huge = sandbox.post("suno/submit/lyrics", {"prompt": "la " * 3000})
    assert huge.status_code == 413 and huge.json()["message"].startswith("prompt:")


def test_no_task_is_created_by_a_refused_submission(sandbox: Any) -> None:
    sandbox.post("suno/submit/music", {"mv": "chirp-v4"})
    assert sandbox.post("suno/fetch", {"ids": [], "action": "MUSIC"}).json()["data"] == []
    log = sandbox.get("_sandbox/requests").json()
    assert [(e["path"], e["status"]) for e in log] == [("/suno/submit/music", 400), ("/suno/fetch", 200)]


def test_fetch_errors(sandbox: Any) -> None:
    missing = sandbox.get("suno/fetch/does-not-exist")
    assert missing.status_code == 404
    assert missing.json() == {"code": "error", "message": missing.json()["message"], "data": None}
    for body, field in [
        ({"action": "MUSIC"}, "ids"),
        ({"ids": "abc", "action": "MUSIC"}, "ids"),
        ({"ids": ["a"]}, "action"),
        ({"ids": ["a"], "action": "VIDEO"}, "action"),
    ]:
        response = sandbox.post("suno/fetch", body)
        assert response.status_code == 400 and response.json()["message"].startswith(field + ":")
    unknown_route = sandbox.get("suno/nothing-here")
    assert unknown_route.status_code == 404 and unknown_route.json()["code"] == "error"

"""Every music mode and lyrics is accepted with the documented envelope; fetch shows the documented task shape."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

TASK_FIELDS = [
    "task_id",
    "notify_hook",
    "action",
    "status",
    "fail_reason",
    "submit_time",
    "start_time",
    "finish_time",
    "progress",
    "data",
]
CLIP_FIELDS = {
    "id",
    "title",
    "status",
    "metadata",
    "audio_url",
    "image_url",
    "image_large_url",
    "video_url",
    "model_name",
    "major_model_version",
}
METADATA_FIELDS = {
    "tags",
    "prompt",
    "duration",
    "gpt_description_prompt",
    "error_type",
    "error_message",
    "audio_prompt_id",
    "type",
}


def test_lyrics_task_completes_with_verse_and_chorus(sandbox: Any) -> None:
    response = sandbox.post("suno/submit/lyrics", {"prompt": "a cat on a rainy rooftop"})
    envelope = response.json()
    assert response.status_code == 200
    assert envelope["code"] == "success" and envelope["message"] == ""
    task_id = envelope["data"]
    assert str(uuid.UUID(task_id, version=4)) == task_id

    first = sandbox.fetch(task_id)
    assert list(first) == TASK_FIELDS
    assert first["action"] == "LYRICS" and first["status"] == "NOT_START" and first["data"] is None
    assert first["progress"] == "0%" and first["finish_time"] == 0 and first["notify_hook"] == ""

    done = sandbox.wait_for_status(task_id, "COMPLETE")
    assert done["progress"] == "100%" and done["finish_time"] >= done["start_time"] >= done["submit_time"] > 0
    assert set(done["data"]) == {"text", "title", "status"}
    assert done["data"]["status"] == "complete"
    assert "[Verse]" in done["data"]["text"] and "[Chorus]" in done["data"]["text"]
    assert done["data"]["title"]


def test_inspiration_task_yields_two_clips_with_durations(sandbox: Any) -> None:
    task_id = sandbox.submit_music({"mv": "chirp-crow", "gpt_description_prompt": "summer road trip"})
    streaming = sandbox.wait_for_status(task_id, "IN_PROGRESS", "STREAMING")
    assert len(streaming["data"]) == 2
    for clip in streaming["data"]:
        assert set(clip) == CLIP_FIELDS and set(clip["metadata"]) == METADATA_FIELDS
        assert clip["status"] == "streaming" and clip["metadata"]["duration"] is None

    done = sandbox.wait_for_status(task_id, "COMPLETE")
    clips = done["data"]
    assert [c["status"] for c in clips] == ["complete", "complete"]
    durations = [c["metadata"]["duration"] for c in clips]
    assert durations == [2.0, 3.5]  # CLIP_SECONDS, and a little longer for the second
    assert clips[0]["id"] != clips[1]["id"]
    assert clips[0]["model_name"] == "chirp-crow" and clips[0]["major_model_version"] == "v5"
    assert clips[0]["metadata"]["gpt_description_prompt"] == "summer road trip"
    assert "[Verse]" in clips[0]["metadata"]["prompt"]
    assert clips[0]["audio_url"].endswith(f"/cdn/audio/{clips[0]['id']}.mp3")


def test_instrumental_mode_takes_an_empty_prompt(sandbox: Any) -> None:
    body = {"prompt": "", "tags": "ambient", "title": "Drift", "mv": "chirp-v4"}
    task_id = sandbox.submit_music(body)
    assert sandbox.get(f"_sandbox/tasks/{task_id}").json()["mode"] == "instrumental"
    flagged = sandbox.submit_music({**body, "prompt": "[Verse]\nhum", "make_instrumental": True})
    assert sandbox.get(f"_sandbox/tasks/{flagged}").json()["mode"] == "instrumental"


def test_custom_mode_keeps_the_given_text_and_accepts_dotted_model(sandbox: Any) -> None:
    body = {"prompt": "[Verse]\nneon lights", "tags": "emotional punk", "title": "City Lights", "mv": "chirp-v3.5"}
    clips = sandbox.wait_for_status(sandbox.submit_music(body), "COMPLETE")["data"]
    assert clips[0]["title"] == "City Lights"
    assert clips[0]["metadata"]["tags"] == "emotional punk"
    assert clips[0]["metadata"]["prompt"] == "[Verse]\nneon lights"
    assert clips[0]["model_name"] == "chirp-v3-5"


def _follow_up_bodies(task: dict[str, Any], persona_id: str) -> dict[str, dict[str, Any]]:
    clip_id = task["data"][0]["id"]
    custom = {"prompt": "[Verse 2]\nmore", "tags": "rock", "title": "Base", "mv": "chirp-v4"}
    return {
        "extend": {
            **custom,
            "task": "extend",
            "task_id": task["task_id"],
            "continue_clip_id": clip_id,
            "continue_at": 1.5,
        },
        "upload_extend": {"task": "upload_extend", "continue_clip_id": clip_id, "continue_at": "1"},
        "artist_consistency": {
            **custom,
            "mv": "chirp-v4-tau",
            "task": "artist_consistency",
            "persona_id": persona_id,
            "artist_clip_id": clip_id,
        },
        "underpainting": {
            "mv": "chirp-bluejay",
            "tags": "piano",
            "title": "Inst",
            "task": "underpainting",
            "underpainting_clip_id": clip_id,
            "underpainting_start_s": 0,
            "underpainting_end_s": 1.9,
            "prompt": "",
            "override_fields": ["prompt", "tags"],
        },
        "overpainting": {
            "mv": "chirp-bluejay",
            "tags": "soul",
            "title": "Vocal",
            "task": "overpainting",
            "overpainting_clip_id": clip_id,
            "overpainting_start_s": 0.5,
            "overpainting_end_s": 2,
            "prompt": "yourself ",
            "override_fields": ["prompt", "tags"],
        },
        "infill": {"mv": "chirp-auk", "continue_clip_id": clip_id, "infill_start_s": 0.2, "infill_end_s": 1.0},
        "gen_stem": {
            "task": "gen_stem",
            "mv": "chirp-auk",
            "task_id": task["task_id"],
            "continue_clip_id": clip_id,
            "stem_type_id": 91,
            "stem_type_group_name": "Two",
            "stem_task": "two",
        },
    }


# Repainting and infill clips last as long as the range they rework (both clips); stems as long as the source.
EXPECTED_DURATIONS = {
    "underpainting": [1.9, 1.9],
    "overpainting": [1.5, 1.5],
    "infill": [0.8, 0.8],
    "gen_stem": [2.0, 2.0],
}


@pytest.mark.parametrize(
    "mode", ["extend", "upload_extend", "artist_consistency", "underpainting", "overpainting", "infill", "gen_stem"]
)
def test_follow_up_modes_are_accepted_and_remember_their_parent(sandbox: Any, mode: str) -> None:
    base = sandbox.complete_song()  # made with chirp-auk, so it may be a persona's source
    persona_id = sandbox.create_persona(base["data"][0]["id"])
    task_id = sandbox.submit_music(_follow_up_bodies(base, persona_id)[mode])
    done = sandbox.wait_for_status(task_id, "COMPLETE")
    assert [c["metadata"]["duration"] for c in done["data"]] == EXPECTED_DURATIONS.get(mode, [2.0, 3.5])

    record = sandbox.get(f"_sandbox/tasks/{task_id}").json()
    assert record["mode"] == mode
    parent = record["clips"][0]["parent_clip_id"]
    assert parent == (None if mode == "artist_consistency" else base["data"][0]["id"])
    if mode == "extend":
        assert record["clips"][0]["continue_at"] == 1.5


def test_notify_hook_is_echoed_in_the_task(sandbox: Any, receiver: Any) -> None:
    task_id = sandbox.submit_music({"mv": "chirp-v4", "gpt_description_prompt": "x", "notify_hook": receiver.url()})
    assert sandbox.fetch(task_id)["notify_hook"] == receiver.url()

"""Udio: generate-proxy answers an id; /udio/query shows two songs that become finished, with real audio."""

from __future__ import annotations

from typing import Any

import pytest

GEN_PARAMS = {
    "prompt": "rock, pop soul, electronic",
    "lyrics": "",
    "lyrics_type": "generate",
    "model_type": "udio32-v1.5",
    "config": {"mode": "regular"},
    "song_section_start": 0.4,
    "prompt_strength": 0.5,
    "generation_quality": 0.75,
    "seed": -1,
}
SONG_FIELDS = {
    "id",
    "generation_id",
    "title",
    "artist",
    "lyrics",
    "prompt",
    "tags",
    "duration",
    "song_path",
    "image_path",
    "video_path",
    "finished",
    "error_id",
    "error_type",
    "error_detail",
    "created_at",
    "model_type",
}


def generate(sandbox: Any, **changes: Any) -> str:
    return str(sandbox.submit("udio/generate-proxy", {"gen_params": {**GEN_PARAMS, **changes}}))


def songs(sandbox: Any, ids: str) -> list[dict[str, Any]]:
    response = sandbox.get(f"udio/query?ids={ids}")
    assert response.status_code == 200
    return list(response.json()["songs"])


def finished_songs(sandbox: Any, ids: str) -> list[dict[str, Any]]:
    """Poll until every song is finished; returns them."""

    def all_finished() -> list[dict[str, Any]] | None:
        found = songs(sandbox, ids)
        return found if found and all(song["finished"] for song in found) else None

    return list(sandbox.wait_until(all_finished))


def test_udio_songs_become_finished_with_audio(sandbox: Any) -> None:
    generation_id = generate(sandbox)
    first = songs(sandbox, generation_id)
    assert len(first) == 2 and all(set(song) == SONG_FIELDS for song in first)
    assert [s["finished"] for s in first] == [False, False]
    assert all(s["song_path"] == "" and s["duration"] is None for s in first)
    assert all(s["generation_id"] == generation_id for s in first)

    done = finished_songs(sandbox, generation_id)
    assert [s["duration"] for s in done] == [2.0, 3.5]
    assert done[0]["tags"] == ["rock", "pop soul", "electronic"] and "[Verse]" in done[0]["lyrics"]
    assert done[0]["error_type"] is None and done[0]["model_type"] == "udio32-v1.5"
    assert abs(sandbox.mp3_seconds(done[1]["song_path"]) - 3.5) < 0.15
    assert sandbox.get(f"suno/fetch/{generation_id}").status_code == 404  # not a Suno task


def test_udio_query_takes_several_ids_and_the_long_model(sandbox: Any) -> None:
    short = generate(sandbox, lyrics_type="user", lyrics="[Verse]\nmine")
    long = generate(sandbox, model_type="udio130-v1.5", lyrics_type="instrumental")
    listed = songs(sandbox, f"{long},unknown,{short}")
    assert [s["generation_id"] for s in listed] == [long, long, short, short]
    assert listed[2]["lyrics"] == "[Verse]\nmine" and listed[0]["lyrics"] == ""
    assert [s["duration"] for s in finished_songs(sandbox, long)] == [4.0, 5.5]  # twice CLIP_SECONDS


def test_udio_failure_shows_in_the_song(start_sandbox: Any) -> None:
    sandbox = start_sandbox(FAULTS={"fail_rate": 1.0})
    generation_id = generate(sandbox)
    failed = finished_songs(sandbox, generation_id)
    assert all(s["error_type"] and s["error_detail"] and s["song_path"] == "" for s in failed)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "gen_params"),
        ({"gen_params": "x"}, "gen_params"),
        ({"gen_params": {**GEN_PARAMS, "prompt": ""}}, "gen_params.prompt"),
        ({"gen_params": {**GEN_PARAMS, "model_type": "udio-9"}}, "gen_params.model_type"),
        ({"gen_params": {**GEN_PARAMS, "lyrics_type": "sung"}}, "gen_params.lyrics_type"),
        ({"gen_params": {**GEN_PARAMS, "lyrics_type": "user"}}, "gen_params.lyrics"),
        ({"gen_params": {**GEN_PARAMS, "prompt_strength": 2}}, "gen_params.prompt_strength"),
        ({"gen_params": {**GEN_PARAMS, "generation_quality": 0.3}}, "gen_params.generation_quality"),
        ({"gen_params": {**GEN_PARAMS, "config": []}}, "gen_params.config"),
    ],
)
def test_udio_refusals_name_the_field(sandbox: Any, body: dict[str, Any], field: str) -> None:
    response = sandbox.post("udio/generate-proxy", body)
    assert response.status_code == 400 and response.json()["message"].startswith(field + ":"), response.json()


def test_udio_query_needs_ids(sandbox: Any) -> None:
    response = sandbox.get("udio/query")
    assert response.status_code == 400 and response.json()["message"].startswith("ids:")

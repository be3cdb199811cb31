"""Separation (both endpoints and task=gen_stem) yields stem clips; personas work only the documented way."""

from __future__ import annotations

from typing import Any

import pytest

CUSTOM = {"prompt": "[Verse]\nhello there", "tags": "pop", "title": "Hi"}
TWELVE = [
    "Vocals",
    "Backing Vocals",
    "Drums",
    "Bass",
    "Guitar",
    "Keyboard",
    "Percussion",
    "Strings",
    "Synth",
    "FX",
    "Brass",
    "Woodwinds",
]
PERSONA_FIELDS = [
    "id",
    "name",
    "description",
    "image_s3_id",
    "root_clip_id",
    "clip",
    "user_display_name",
    "user_handle",
    "user_image_url",
    "persona_clips",
    "is_suno_persona",
    "is_trashed",
    "is_owned",
    "is_public",
    "is_public_approved",
    "is_loved",
    "upvote_count",
    "clip_count",
]


def test_separation_endpoints_yield_stem_clips(sandbox: Any, receiver: Any) -> None:
    base = sandbox.complete_song()
    source = base["data"][1]
    single = sandbox.submit(
        "suno/submit/audio/separation/single",
        {"clip_id": source["id"], "task_id": base["task_id"], "notify_hook": receiver.url()},
    )
    full = sandbox.submit("suno/submit/audio/separation/full", {"clip_id": source["id"]})
    assert receiver.wait_for(single, "COMPLETE") == ["IN_PROGRESS", "STREAMING", "COMPLETE"]
    sandbox.wait_for_status(full, "COMPLETE")
    tasks = {
        t["task_id"]: t for t in sandbox.post("suno/fetch", {"ids": [single, full], "action": "MUSIC"}).json()["data"]
    }

    stems = tasks[single]["data"]
    assert [s["title"] for s in stems] == ["Base (Vocals)", "Base (Instrumental)"]
    for stem in stems:
        metadata = stem["metadata"]
        assert metadata["type"] == "gen_stem" and metadata["stem_from_id"] == source["id"]
        assert (metadata["stem_task"], metadata["stem_type_group_name"]) == ("two", "Two")
        assert metadata["duration"] == 3.5 and stem["model_name"] == "chirp-stem"
    assert [s["metadata"]["prompt"] for s in stems] == ["[Verse]\nla la la", ""]  # only vocals keep the lyrics
    assert abs(sandbox.mp3_seconds(stems[1]["audio_url"]) - 3.5) < 0.15

    assert [s["metadata"]["stem_name"] for s in tasks[full]["data"]] == TWELVE
    assert {s["metadata"]["stem_task"] for s in tasks[full]["data"]} == {"twelve"}


def test_separation_refusals(sandbox: Any) -> None:
    base = sandbox.complete_song()
    for body, field in [
        ({}, "clip_id"),
        ({"clip_id": "nope"}, "clip_id"),
        ({"clip_id": base["data"][0]["id"], "task_id": "other"}, "task_id"),
    ]:
        response = sandbox.post("suno/submit/audio/separation/full", body)
        assert response.status_code == 400 and response.json()["message"].startswith(field + ":")
    bad_stem = {"task": "gen_stem", "continue_clip_id": base["data"][0]["id"], "stem_task": "three"}
    response = sandbox.post("suno/submit/music", bad_stem)
    assert response.status_code == 400 and response.json()["message"].startswith("stem_task:")


def test_persona_answers_at_once_and_artist_consistency_takes_it(sandbox: Any) -> None:
    base = sandbox.complete_song()  # chirp-auk
    root, other = base["data"][0]["id"], base["data"][1]["id"]
    body = {"root_clip_id": root, "name": "Ana", "description": "warm alto", "clips": [root, other], "is_public": True}
    response = sandbox.post("suno/persona/create", body)
    assert response.status_code == 200
    persona = response.json()
    assert list(persona) == PERSONA_FIELDS  # the bare persona of the API docs: no {code, data} envelope
    assert persona["root_clip_id"] == root and persona["name"] == "Ana" and persona["clip_count"] == 2
    assert persona["clip"]["id"] == root and persona["clip"]["entity_type"] == "song_schema"
    assert persona["clip"]["metadata"]["duration"] == 2.0
    assert [c["clip"]["id"] for c in persona["persona_clips"]] == [root, other]
    alias = sandbox.post("suno/submit/persona", body).json()  # the alias path in the API docs
    assert alias["id"] != persona["id"] and alias["root_clip_id"] == root

    for mv in ("chirp-v4-tau", "chirp-v3-5-tau", "chirp-auk"):
        accepted = {**CUSTOM, "mv": mv, "task": "artist_consistency", "persona_id": persona["id"]}
        sandbox.submit("suno/submit/music", {**accepted, "artist_clip_id": root})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"mv": "chirp-v4"}, "mv"),  # not a tau model
        ({"persona_id": "05bf9685-ab17-4b3b-93f6-0537f13f9e17"}, "persona_id"),  # never created here
        ({"task": None}, "persona_id"),  # a persona outside artist_consistency
    ],
)
def test_persona_rules(sandbox: Any, change: dict[str, Any], field: str) -> None:
    root = sandbox.complete_song()["data"][0]["id"]
    body = {**CUSTOM, "mv": "chirp-v4-tau", "task": "artist_consistency", "artist_clip_id": root}
    body = {**body, "persona_id": sandbox.create_persona(root), **change}
    response = sandbox.post("suno/submit/music", {k: v for k, v in body.items() if v is not None})
    assert response.status_code == 400 and response.json()["message"].startswith(field + ":"), response.json()


def test_persona_of_a_song_not_made_with_chirp_auk_is_refused_when_used(sandbox: Any) -> None:
    root = sandbox.complete_song(mv="chirp-v4")["data"][0]["id"]
    persona_id = sandbox.create_persona(root)  # creation does not check the model…
    body = {**CUSTOM, "mv": "chirp-v4-tau", "task": "artist_consistency", "persona_id": persona_id}
    response = sandbox.post("suno/submit/music", {**body, "artist_clip_id": root})
    assert response.status_code == 400  # …artist_consistency does
    message = response.json()["message"]
    assert message.startswith("persona_id:") and "chirp-auk" in message and "chirp-v4" in message


def test_persona_needs_only_its_root_clip(sandbox: Any) -> None:
    root = sandbox.complete_song()["data"][0]["id"]
    response = sandbox.post("suno/persona/create", {"root_clip_id": root})
    assert response.status_code == 200 and response.json()["root_clip_id"] == root


def test_persona_creation_refusals(sandbox: Any) -> None:
    root = sandbox.complete_song()["data"][0]["id"]
    for body, field in [
        ({"name": "x"}, "root_clip_id"),
        ({"root_clip_id": "nope", "name": "x"}, "root_clip_id"),
        ({"root_clip_id": root, "name": "x", "clips": [root, "nope"]}, "clips"),
        ({"root_clip_id": root, "name": "x", "is_public": "yes"}, "is_public"),
    ]:
        response = sandbox.post("suno/persona/create", body)
        assert response.status_code == 400 and response.json() == {
            "code": "error",
            "message": response.json()["message"],
            "data": None,
        }
        assert response.json()["message"].startswith(field + ":"), body

"""Faults reach the new routes: error_rate on every /suno and /udio route, ambiguity only on paid submits."""

from __future__ import annotations

from typing import Any

import pytest
import requests


def test_error_rate_hits_every_new_route(sandbox: Any) -> None:
    clip_id = sandbox.complete_song()["data"][0]["id"]
    sandbox.post("_sandbox/faults", {"error_rate": 1.0, "error_codes": [503]})
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("post", "suno/submit/upload", {"audio_url": "http://127.0.0.1:9/a.mp3"}),
        ("post", "suno/uploads/audio-url", {"url": "http://127.0.0.1:9/a.mp3"}),
        ("post", "suno/submit/concat", {"clip_id": clip_id, "is_infill": False}),
        ("post", "suno/submit/audio/separation/full", {"clip_id": clip_id}),
        ("post", "suno/submit/audio/separation/single", {"clip_id": clip_id}),
        ("post", "suno/persona/create", {"root_clip_id": clip_id, "name": "x"}),
        ("post", "suno/submit/persona", {"root_clip_id": clip_id, "name": "x"}),
        ("get", f"suno/act/wav/{clip_id}", None),
        ("get", f"suno/midi/{clip_id}", None),
        ("get", f"suno/mv/{clip_id}", None),
        ("get", f"suno/act/timing/{clip_id}", None),
        ("post", "udio/generate-proxy", {"gen_params": {}}),
        ("get", "udio/query?ids=x", None),
    ]
    for method, path, body in calls:
        response = sandbox.post(path, body) if method == "post" else sandbox.get(path)
        assert response.status_code == 503, path
        assert response.json()["code"] == "error"
    assert len(sandbox.get("_sandbox/tasks").json()) == 1  # only the song made before the faults


@pytest.mark.parametrize("path", ["suno/persona/create", "suno/submit/audio/separation/single", "udio/generate-proxy"])
def test_paid_submits_can_be_ambiguous(sandbox: Any, path: str) -> None:
    clip_id = sandbox.complete_song()["data"][0]["id"]
    bodies = {
        "suno/persona/create": {"root_clip_id": clip_id, "name": "x"},
        "suno/submit/audio/separation/single": {"clip_id": clip_id},
        "udio/generate-proxy": {"gen_params": {"prompt": "x", "lyrics_type": "generate", "model_type": "udio32-v1.5"}},
    }
    sandbox.post("_sandbox/faults", {"ambiguous_rate": 1.0, "ambiguous_sleep": 1.0})
    with pytest.raises(requests.ReadTimeout):
        sandbox.post(path, bodies[path], timeout=0.3)
    assert sandbox.get(f"suno/wav/{clip_id}", timeout=0.3).status_code == 200  # exports are never held
    assert sandbox.get("udio/query?ids=x", timeout=0.3).status_code == 200

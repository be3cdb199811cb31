"""Every hookline operation as a single job on real processes: each reaches succeeded, its artifacts exist with the
sha256 we recorded, and audio lengths are checked by decoding the files (MP3 with mutagen, WAV with wave)."""

from __future__ import annotations

import io
import json
import wave
from typing import Any

import mutagen.mp3
import pytest

from shared.cli.stack import wait_until
from tests.e2e.driver import artifact_bytes, create_job, get_job, wait_job

CLIP = 8.0  # sandbox clip length (the second clip of a task is 1.5 s longer)
CUSTOM = {"prompt": "[Verse]\nHarbour lights\n[Chorus]\nHold on", "tags": "synthwave", "title": "Harbour",
          "mv": "chirp-auk"}


def run_all(stack, jobs: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    ids = {name: create_job(stack, op, params) for name, (op, params) in jobs.items()}
    done = {name: wait_job(stack, job_id, timeout=120) for name, job_id in ids.items()}
    failed = {n: j["error"] for n, j in done.items() if j["status"] != "succeeded"}
    assert not failed, json.dumps(failed)
    return done


def stored_artifacts(stack, job: dict[str, Any], timeout: float = 60,
                     need_clip_audio: bool = False) -> list[dict[str, Any]]:
    """The job's artifacts once downloads settled (rows appear one by one as files arrive)."""
    def settled() -> list[dict[str, Any]] | None:
        arts = get_job(stack, job["id"])["artifacts"]
        audio_for = {a["clip_id"] for a in arts if a["kind"] == "audio"}
        complete = not need_clip_audio or all(c["id"] in audio_for for c in job["clips"])
        return arts if arts and complete and all(a["status"] in ("stored", "refused", "failed") for a in arts) else None

    try:
        arts = wait_until(settled, timeout, 0.3, f"artifacts of {job['operation']} settled")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}: {get_job(stack, job['id'])['artifacts']}") from None
    bad = [a for a in arts if a["status"] != "stored"]
    assert not bad, bad
    for art in arts:
        art["data"] = artifact_bytes(stack.receiver_url, art)  # served by the receiver, checked against its sha256
    return arts


def decoded_length(art: dict[str, Any]) -> float | None:
    if art["key"].endswith(".mp3"):
        return float(mutagen.mp3.MP3(io.BytesIO(art["data"])).info.length)
    if art["key"].endswith(".wav"):
        with wave.open(io.BytesIO(art["data"])) as w:
            return w.getnframes() / w.getframerate()
    return None


def check_audio(stack, job: dict[str, Any]) -> list[dict[str, Any]]:
    """Every clip's audio file decodes to the duration the task reported."""
    arts = stored_artifacts(stack, job, need_clip_audio=True)
    for clip in job["clips"]:
        audio = [a for a in arts if a["kind"] == "audio" and a["clip_id"] == clip["id"]]
        assert audio, (job["operation"], clip["id"], arts)
        assert decoded_length(audio[0]) == pytest.approx(clip["duration"], abs=0.15)
    return arts


def test_every_operation_succeeds_with_verified_artifacts(make_stack, broker_url):
    stack, _ = make_stack(broker_url=broker_url, sandbox_args=["--step-seconds", "0.3", "--clip-seconds", str(CLIP)])

    first = run_all(stack, {
        "custom": ("music", CUSTOM),
        "inspiration": ("music", {"gpt_description_prompt": "a cat on a boat", "mv": "chirp-crow"}),
        "instrumental": ("music", {**CUSTOM, "prompt": "", "make_instrumental": True, "mv": "chirp-v4"}),
        "lyrics": ("lyrics", {"prompt": "a lighthouse keeper"}),
        "udio": ("udio", {"gen_params": {"prompt": "rock, pop soul", "lyrics": "", "lyrics_type": "generate",
                                         "model_type": "udio32-v1.5"}}),
    })
    base = first["custom"]
    clip, task_id = base["clips"][0], base["upstream_task_id"]
    assert clip["duration"] == pytest.approx(CLIP)
    for name in ("custom", "inspiration", "instrumental", "udio"):
        assert len(first[name]["clips"]) == 2, name
        check_audio(stack, first[name])
    assert first["lyrics"]["lyrics"]["text"]

    second = run_all(stack, {
        "extend": ("music", {"task": "extend", "task_id": task_id, "continue_clip_id": clip["id"], "continue_at": 5,
                             "mv": "chirp-auk", "prompt": "[Bridge]\nmore", "tags": "synthwave", "title": "More"}),
        "underpainting": ("music", {"task": "underpainting", "underpainting_clip_id": clip["id"], "mv": "chirp-auk",
                                    "underpainting_start_s": 1, "underpainting_end_s": 5, "tags": "piano",
                                    "title": "U"}),
        "overpainting": ("music", {"task": "overpainting", "overpainting_clip_id": clip["id"], "mv": "chirp-auk",
                                   "overpainting_start_s": 0, "overpainting_end_s": 6, "tags": "soul", "title": "O",
                                   "prompt": "[Verse]\nla la"}),
        "infill": ("music", {"continue_clip_id": clip["id"], "infill_start_s": 2, "infill_end_s": 4,
                             "mv": "chirp-auk"}),
        "gen_stem": ("music", {"task": "gen_stem", "mv": "chirp-auk", "task_id": task_id,
                               "continue_clip_id": clip["id"],
                               "stem_type_id": 91, "stem_type_group_name": "Two", "stem_task": "two"}),
        "separate_full": ("separate", {"clip_id": clip["id"], "mode": "full"}),
        "separate_single": ("separate", {"clip_id": clip["id"], "mode": "single"}),
        "upload": ("upload", {"audio_url": clip["audio_url"], "title": "Uploaded"}),
        "persona": ("persona", {"root_clip_id": clip["id"], "name": "Harbour voice", "description": "warm",
                                "clips": [clip["id"]], "is_public": False}),
        "wav": ("wav", {"clip_id": clip["id"]}),
        "midi": ("midi", {"clip_id": clip["id"]}),
        "mp4": ("mp4", {"clip_id": clip["id"]}),
        "timing": ("timing", {"clip_id": clip["id"]}),
    })
    for name in ("extend", "underpainting", "overpainting", "infill", "gen_stem", "separate_full", "separate_single",
                 "upload"):
        check_audio(stack, second[name])
    assert second["underpainting"]["clips"][0]["duration"] == pytest.approx(4.0)
    assert second["upload"]["clips"][0]["duration"] == pytest.approx(CLIP)
    wav_art = [a for a in stored_artifacts(stack, second["wav"]) if a["key"].endswith(".wav")]
    assert wav_art and decoded_length(wav_art[0]) == pytest.approx(CLIP, abs=0.05)
    midi_kinds = {a["kind"] for a in stored_artifacts(stack, second["midi"])}
    assert "midi" in midi_kinds
    timing = [a for a in stored_artifacts(stack, second["timing"]) if a["kind"] == "timing"]
    words = json.loads(timing[0]["data"])
    assert any(w.get("word") == "Harbour" for w in _words(words)), words
    mp4 = [a for a in stored_artifacts(stack, second["mp4"]) if a["kind"] == "video"]
    assert mp4 and mp4[0]["content_type"].startswith("video/mp4")
    persona_id = second["persona"]["result"]["persona_id"]

    ext_clip = second["extend"]["clips"][0]
    third = run_all(stack, {
        "concat": ("concat", {"clip_id": ext_clip["id"], "is_infill": False}),
        "artist_consistency": ("music", {**CUSTOM, "task": "artist_consistency", "mv": "chirp-v4-tau",
                                         "persona_id": persona_id, "artist_clip_id": clip["id"]}),
        "upload_extend": ("music", {"task": "upload_extend", "continue_clip_id": second["upload"]["clips"][0]["id"],
                                    "continue_at": 3}),
    })
    for name in third:
        check_audio(stack, third[name])
    assert third["concat"]["clips"][0]["duration"] == pytest.approx(5 + ext_clip["duration"], abs=0.15)


def _words(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, dict):
        for key in ("aligned_words",):
            if isinstance(doc.get(key), list):
                return doc[key]
        return [w for v in doc.values() for w in _words(v)]
    return []

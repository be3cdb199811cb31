"""GET exports (wav, midi, mp4, timing): running first, complete after STEP_SECONDS, real files behind the URLs.

The default DIALECT is ``seed:object``: the API docs' summary paths, enveloped objects. The other dialects
(act paths; bare, url and task answers) are checked at the end.
"""

from __future__ import annotations

import io
import struct
import wave
from typing import Any

import pytest

SEED_PATHS = ["suno/wav/{}", "suno/midi/{}", "suno/mv/{}", "suno/timing/{}"]
ACT_PATHS = ["suno/act/wav/{}", "suno/act/midi/{}", "suno/act/mp4/{}", "suno/act/timing/{}"]


def midi_note_ons(track: bytes) -> list[tuple[int, int]]:
    """(tick, pitch) of every note-on in a format-0 track (meta, program change and note events only)."""
    found, tick, at = [], 0, 0
    while at < len(track):
        delta = 0
        while True:
            byte = track[at]
            at += 1
            delta = (delta << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        tick += delta
        status = track[at]
        if status == 0xFF:  # meta: type, length, data
            at += 3 + track[at + 2]
        elif status & 0xF0 == 0xC0:
            at += 2
        else:
            if status & 0xF0 == 0x90:
                found.append((tick, track[at + 1]))
            at += 3
    return found


def enveloped_state(answer: dict[str, Any]) -> str:
    assert answer["code"] == "success" and answer["message"] == ""
    return str(answer["data"]["state"])


def test_wav_export_runs_then_serves_a_wav_of_the_clips_length(sandbox: Any) -> None:
    clip = sandbox.complete_song()["data"][1]
    answers = sandbox.wait_for_export(f"suno/wav/{clip['id']}", lambda a: enveloped_state(a) == "complete")
    assert len(answers) >= 2
    running, done = answers[0]["data"], answers[-1]["data"]
    assert running == {"id": running["id"], "clip_id": clip["id"], "state": "running", "wav_url": None}
    assert done["id"] == running["id"] and done["wav_url"].endswith(f"/cdn/wav/{clip['id']}.wav")

    content = sandbox.media(done["wav_url"], "audio/wav")
    assert content[:4] == b"RIFF" and content[8:12] == b"WAVE"
    with wave.open(io.BytesIO(content)) as read:
        assert (read.getnchannels(), read.getsampwidth(), read.getcomptype()) == (1, 2, "NONE")
        assert abs(read.getnframes() / read.getframerate() - clip["metadata"]["duration"]) < 0.01


def test_midi_export_lists_the_notes_and_serves_a_midi_file(sandbox: Any) -> None:
    clip = sandbox.complete_song()["data"][0]
    answers = sandbox.wait_for_export(f"suno/midi/{clip['id']}", lambda a: enveloped_state(a) == "complete")
    assert answers[0]["data"] == {"id": answers[0]["data"]["id"], "clip_id": clip["id"], "state": "running"}
    done = answers[-1]["data"]
    assert set(done) == {"id", "state", "clip_id", "instruments", "midi_url"}
    [instrument] = done["instruments"]
    notes = instrument["notes"]
    assert instrument["name"] and len(notes) > 3
    assert all(set(note) == {"pitch", "start", "end", "velocity"} for note in notes)
    assert notes[0]["start"] == 0 and all(0 <= n["start"] < n["end"] <= 2.0 for n in notes)
    assert all(57 <= n["pitch"] <= 81 and 1 <= n["velocity"] <= 127 for n in notes)

    midi = sandbox.media(done["midi_url"], "audio/midi")
    assert midi[:4] == b"MThd" and struct.unpack(">IHHH", midi[4:14]) == (6, 0, 1, 480)
    assert midi[14:18] == b"MTrk"
    length = struct.unpack(">I", midi[18:22])[0]
    assert len(midi) == 22 + length
    ticks_per_second = 960  # 480 per quarter at 120 bpm
    expected = [(round(n["start"] * ticks_per_second), n["pitch"]) for n in notes]
    assert midi_note_ons(midi[22:]) == expected


def test_mp4_export_serves_a_video_file(sandbox: Any) -> None:
    clip = sandbox.complete_song()["data"][1]
    answers = sandbox.wait_for_export(f"suno/mv/{clip['id']}", lambda a: enveloped_state(a) == "complete")
    assert answers[0]["data"]["video_url"] is None
    video = sandbox.media(answers[-1]["data"]["video_url"], "video/mp4")
    assert video[4:8] == b"ftyp" and video[8:12] == b"isom"
    mvhd = video.index(b"mvhd")
    timescale, length = struct.unpack(">II", video[mvhd + 16 : mvhd + 24])
    assert length / timescale == clip["metadata"]["duration"] == 3.5


def test_timing_only_after_complete_then_aligned_words_from_the_lyrics(sandbox: Any) -> None:
    lyrics = "[Verse]\nWalking down the street\n\n[Chorus]\nOh, the lights!"
    task_id = sandbox.submit_music({"prompt": lyrics, "tags": "pop", "title": "T", "mv": "chirp-v4"})
    streaming = sandbox.wait_for_status(task_id, "IN_PROGRESS", "STREAMING")
    clip_id = streaming["data"][0]["id"]
    early = sandbox.get(f"suno/timing/{clip_id}")
    assert early.status_code == 400
    assert early.json()["code"] == "error" and early.json()["data"] is None
    assert early.json()["message"].startswith("clip_id:") and "COMPLETE" in early.json()["message"]

    sandbox.wait_for_status(task_id, "COMPLETE")
    answers = sandbox.wait_for_export(f"suno/timing/{clip_id}", lambda a: enveloped_state(a) == "complete")
    assert answers[0]["data"] == {"id": answers[0]["data"]["id"], "state": "running", "clip_id": clip_id}
    words = answers[-1]["data"]["aligned_words"]
    assert [w["word"] for w in words] == ["Walking", "down", "the", "street", "Oh,", "the", "lights!"]
    assert all(set(w) == {"word", "success", "start_s", "end_s", "p_align"} and w["success"] for w in words)
    assert all(0 < w["p_align"] <= 1 and w["start_s"] < w["end_s"] for w in words)
    assert [w["start_s"] for w in words] == sorted(w["start_s"] for w in words)
    assert words[0]["start_s"] == 0 and words[-1]["end_s"] <= 2.0


def test_timing_of_an_instrumental_has_no_words(sandbox: Any) -> None:
    clip_id = sandbox.complete_song(prompt="", make_instrumental=True)["data"][0]["id"]
    answers = sandbox.wait_for_export(f"suno/timing/{clip_id}", lambda a: enveloped_state(a) == "complete")
    assert answers[-1]["data"]["aligned_words"] == []


@pytest.mark.parametrize("path", SEED_PATHS)
def test_export_of_an_unknown_clip_is_404(sandbox: Any, path: str) -> None:
    response = sandbox.get(path.format("no-such-clip"))
    assert response.status_code == 404
    assert response.json() == {"code": "error", "message": "clip not found: no-such-clip", "data": None}


# --- dialects: one path family served, one answer shape ---------------------------------------------------------


@pytest.mark.parametrize(("dialect", "served", "refused"), [("seed:object", SEED_PATHS, ACT_PATHS),
                                                            ("act:object", ACT_PATHS, SEED_PATHS)])
def test_a_dialect_serves_only_its_own_path_family(start_sandbox: Any, dialect: str, served: list[str],
                                                   refused: list[str]) -> None:
    sandbox = start_sandbox(DIALECT=dialect)
    clip_id = sandbox.complete_song()["data"][0]["id"]
    for path in served:
        assert sandbox.get(path.format(clip_id)).status_code == 200, path
    for path in refused:
        response = sandbox.get(path.format(clip_id))
        assert response.status_code == 404 and response.json()["code"] == "error", path


def test_the_bare_dialect_answers_without_an_envelope(start_sandbox: Any) -> None:
    sandbox = start_sandbox(DIALECT="act:bare")
    clip_id = sandbox.complete_song()["data"][0]["id"]
    answers = sandbox.wait_for_export(f"suno/act/timing/{clip_id}", lambda a: a["state"] == "complete")
    assert "code" not in answers[-1] and answers[-1]["aligned_words"] and answers[-1]["waveform_data"]
    wav = sandbox.wait_for_export(f"suno/act/wav/{clip_id}", lambda a: a["state"] == "complete")[-1]
    assert sandbox.media(wav["wav_url"], "audio/wav")[:4] == b"RIFF"


def test_the_url_dialect_answers_the_files_url_in_data(start_sandbox: Any) -> None:
    sandbox = start_sandbox(DIALECT="seed:url")
    clip_id = sandbox.complete_song()["data"][0]["id"]
    for path, content_type in (("suno/wav/{}", "audio/wav"), ("suno/mv/{}", "video/mp4"),
                               ("suno/midi/{}", "audio/midi")):
        answer = sandbox.get(path.format(clip_id)).json()
        assert answer["code"] == "success" and isinstance(answer["data"], str)
        sandbox.media(answer["data"], content_type)
    timing = sandbox.wait_for_export(f"suno/timing/{clip_id}", lambda a: a["state"] == "complete")[-1]
    assert "aligned_words" in timing  # timing has no file: it answers its bare object


def test_the_task_dialect_answers_a_task_id_read_with_fetch(start_sandbox: Any) -> None:
    sandbox = start_sandbox(DIALECT="act:task")
    clip_id = sandbox.complete_song()["data"][0]["id"]
    answer = sandbox.get(f"suno/act/wav/{clip_id}").json()
    export_id = answer["data"]
    assert answer["code"] == "success" and isinstance(export_id, str) and not export_id.startswith("http")
    assert sandbox.fetch(export_id)["status"] == "IN_PROGRESS"
    task = sandbox.wait_for_status(export_id, "COMPLETE")
    assert task["task_id"] == export_id and task["data"]["wav_url"].endswith(f"/cdn/wav/{clip_id}.wav")


@pytest.mark.parametrize("dialect", ["act", "seed:json", "both:url", ""])
def test_a_bad_dialect_is_refused_at_start(dialect: str) -> None:
    from shared.sandbox import create_app

    with pytest.raises(ValueError, match="DIALECT"):
        create_app({"DIALECT": dialect})

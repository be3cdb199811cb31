"""Upload (of a sandbox clip or another server's file) and concat: real audio, lengths that add up."""

from __future__ import annotations

import io
import wave
from typing import Any

import pytest

SAMPLE_RATE = 22050
TOLERANCE = 0.15  # seconds between metadata.duration and the decoded file


def pcm_wav(seconds: float, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x01\x00\xff\xff" * round(seconds * rate))
    return buffer.getvalue()


def wav_frames(sandbox: Any, clip_id: str) -> bytes:
    with wave.open(io.BytesIO(sandbox.media(f"{sandbox.url}cdn/wav/{clip_id}.wav", "audio/wav"))) as read:
        return read.readframes(read.getnframes())


def extend(sandbox: Any, task: dict[str, Any], continue_at: float, **extra: Any) -> dict[str, Any]:
    body = {
        "task": "extend",
        "mv": "chirp-auk",
        "prompt": "[Verse 2]\nand on",
        "tags": "pop",
        "title": "Base",
        "task_id": task["task_id"],
        "continue_clip_id": task["data"][0]["id"],
        "continue_at": continue_at,
        **extra,
    }
    return dict(sandbox.wait_for_status(sandbox.submit_music(body), "COMPLETE"))


def concat(sandbox: Any, clip_id: str, *, is_infill: bool = False, **extra: Any) -> dict[str, Any]:
    task_id = sandbox.submit("suno/submit/concat", {"clip_id": clip_id, "is_infill": is_infill, **extra})
    return dict(sandbox.wait_for_status(task_id, "COMPLETE"))


def test_upload_of_another_servers_file_has_its_decoded_duration(sandbox: Any, file_server: Any) -> None:
    url = file_server.serve("/audio/my_demo-take.wav", pcm_wav(1.7), "audio/wav")
    task = sandbox.wait_for_status(sandbox.submit("suno/submit/upload", {"audio_url": url}), "COMPLETE")
    assert task["action"] == "MUSIC" and len(task["data"]) == 1
    clip = task["data"][0]
    assert clip["title"] == "my demo take"  # no title given: the file's name
    assert clip["metadata"]["type"] == "upload" and clip["metadata"]["duration"] == 1.7
    assert abs(sandbox.mp3_seconds(clip["audio_url"]) - 1.7) < TOLERANCE
    batch = sandbox.post("suno/fetch", {"ids": [task["task_id"]], "action": "MUSIC"}).json()["data"]
    assert batch == [task]


def test_upload_of_a_sandbox_clip_keeps_its_audio(sandbox: Any, receiver: Any) -> None:
    source = sandbox.complete_song()["data"][1]
    body = {"url": source["audio_url"], "title": "Mine", "notify_hook": receiver.url()}
    task_id = sandbox.submit("suno/uploads/audio-url", body)  # the other resellers' path and field
    assert receiver.wait_for(task_id, "COMPLETE")[-1] == "COMPLETE"
    clip = sandbox.fetch(task_id)["data"][0]
    assert clip["title"] == "Mine" and clip["metadata"]["duration"] == source["metadata"]["duration"] == 3.5
    assert sandbox.media(clip["audio_url"], "audio/mpeg") == sandbox.media(source["audio_url"], "audio/mpeg")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("suno/submit/upload", {}, "audio_url"),
        ("suno/submit/upload", {"audio_url": "ftp://x/y.mp3"}, "audio_url"),
        ("suno/submit/upload", {"audio_url": "http://127.0.0.1:9/nothing.mp3"}, "audio_url"),
        ("suno/uploads/audio-url", {"audio_url": "http://x/y.mp3"}, "url"),
    ],
)
def test_bad_uploads_name_the_field(sandbox: Any, path: str, body: dict[str, Any], field: str) -> None:
    response = sandbox.post(path, body)
    assert response.status_code == 400 and response.json()["message"].startswith(field + ":")


def test_upload_of_something_that_is_not_audio(sandbox: Any, file_server: Any) -> None:
    for url in (file_server.serve("/notes.txt", b"just some text " * 50, "text/plain"), file_server.url_missing()):
        response = sandbox.post("suno/submit/upload", {"audio_url": url})
        assert response.status_code == 400 and response.json()["message"].startswith("audio_url:")
    assert sandbox.get("_sandbox/tasks").json() == []


def test_concat_is_the_parent_up_to_continue_at_then_the_extension(sandbox: Any, receiver: Any) -> None:
    base = sandbox.complete_song()
    extension = extend(sandbox, base, 1.5)
    assert extension["data"][0]["metadata"]["duration"] == 2.0  # the extension alone: CLIP_SECONDS
    task = concat(sandbox, extension["data"][0]["id"], notify_hook=receiver.url())
    assert receiver.wait_for(task["task_id"], "COMPLETE")[-1] == "COMPLETE"
    assert len(task["data"]) == 1
    clip = task["data"][0]
    assert clip["metadata"]["duration"] == 3.5  # continue_at + the extension's length
    assert clip["metadata"]["type"] == "concat" and clip["metadata"]["concat_from_id"] == extension["data"][0]["id"]
    assert clip["metadata"]["prompt"] == "[Verse]\nla la la\n\n[Verse 2]\nand on"
    assert abs(sandbox.mp3_seconds(clip["audio_url"]) - 3.5) < TOLERANCE

    whole = wav_frames(sandbox, clip["id"])
    cut = round(1.5 * SAMPLE_RATE) * 2  # bytes of 16-bit mono
    assert whole[:cut] == wav_frames(sandbox, base["data"][0]["id"])[:cut]
    assert whole[cut:] == wav_frames(sandbox, extension["data"][0]["id"])


def test_concat_follows_a_chain_of_extensions(sandbox: Any) -> None:
    first = extend(sandbox, sandbox.complete_song(), 1.5)
    second = extend(sandbox, first, 1.0)
    clip = concat(sandbox, second["data"][0]["id"])["data"][0]
    assert clip["metadata"]["duration"] == 4.5  # 1.5 of the song + 1.0 of the first extension + 2.0
    assert abs(sandbox.mp3_seconds(clip["audio_url"]) - 4.5) < TOLERANCE


def test_infill_concat_keeps_the_parents_length(sandbox: Any) -> None:
    base = sandbox.complete_song()
    body = {"mv": "chirp-auk", "continue_clip_id": base["data"][0]["id"], "infill_start_s": 0.5, "infill_end_s": 1.2}
    infill = sandbox.wait_for_status(sandbox.submit_music(body), "COMPLETE")
    assert [c["metadata"]["duration"] for c in infill["data"]] == [0.7, 0.7]  # the infilled range's length
    assert abs(sandbox.mp3_seconds(infill["data"][0]["audio_url"]) - 0.7) < TOLERANCE

    refused = sandbox.post("suno/submit/concat", {"clip_id": infill["data"][0]["id"], "is_infill": False})
    assert refused.status_code == 400 and "is_infill true" in refused.json()["message"]
    clip = concat(sandbox, infill["data"][0]["id"], is_infill=True)["data"][0]
    assert clip["metadata"]["duration"] == 2.0  # before the range + the infill + after the range
    assert abs(sandbox.mp3_seconds(clip["audio_url"]) - 2.0) < TOLERANCE


def test_concat_refusals_name_the_field(sandbox: Any) -> None:
    base = sandbox.complete_song()
    clip_id = base["data"][0]["id"]
    for body, field in [
        ({"is_infill": False}, "clip_id"),
        ({"clip_id": clip_id}, "is_infill"),
        ({"clip_id": clip_id, "is_infill": "no"}, "is_infill"),
        ({"clip_id": "nope", "is_infill": False}, "clip_id"),
        ({"clip_id": clip_id, "is_infill": False}, "clip_id"),  # not an extension
        ({"clip_id": clip_id, "is_infill": True}, "is_infill"),  # not an infill clip
    ]:
        response = sandbox.post("suno/submit/concat", body)
        assert response.status_code == 400, body
        assert response.json()["message"].startswith(field + ":"), (body, response.json())

"""Clip URLs serve a real MP3 whose duration matches metadata, and real PNG covers."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import requests
from mutagen.mp3 import MP3


def test_mp3_duration_matches_metadata(sandbox: Any) -> None:
    clips = sandbox.complete_song()["data"]
    for clip in clips:
        response = requests.get(clip["audio_url"], timeout=5)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "audio/mpeg"
        assert int(response.headers["Content-Length"]) == len(response.content) > 1000
        info = MP3(io.BytesIO(response.content)).info
        assert info is not None
        assert abs(info.length - clip["metadata"]["duration"]) < 0.1
        assert info.channels == 1 and info.sample_rate == 22050
    again = requests.get(clips[0]["audio_url"], timeout=5).content
    assert again == requests.get(clips[0]["audio_url"], timeout=5).content  # cached and deterministic


def test_streaming_url_serves_audio_while_streaming(sandbox: Any) -> None:
    task_id = sandbox.submit_music({"mv": "chirp-v4", "gpt_description_prompt": "x"})
    clip = sandbox.wait_for_status(task_id, "IN_PROGRESS", "STREAMING")["data"][0]
    assert "/audiopipe/?item_id=" in clip["audio_url"]
    response = requests.get(clip["audio_url"], timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"] == "audio/mpeg"


def test_cover_images_are_real_pngs(sandbox: Any) -> None:
    clip = sandbox.complete_song()["data"][0]
    for url, size in ((clip["image_url"], 64), (clip["image_large_url"], 256)):
        response = requests.get(url, timeout=5)
        assert response.headers["Content-Type"] == "image/png"
        assert int(response.headers["Content-Length"]) == len(response.content)
        png = response.content
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        assert (width, height) == (size, size)
        idat_length = struct.unpack(">I", png[33:37])[0]
        assert len(zlib.decompress(png[41 : 41 + idat_length])) == size * (1 + 3 * size)


def test_unknown_clip_media_is_404(sandbox: Any) -> None:
    response = requests.get(sandbox.url + "cdn/audio/not-a-clip.mp3", timeout=5)
    assert response.status_code == 404 and response.json()["code"] == "error"

"""A clip's audio as a PCM WAV (RIFF/WAVE, 16-bit mono), exactly as long as its recipe."""

from __future__ import annotations

import io
import wave

from .audio_recipe import Recipe, recipe_pcm
from .melody_score import SAMPLE_RATE


def render_recipe_wav(recipe: Recipe) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(recipe_pcm(recipe).tobytes())
    return buffer.getvalue()

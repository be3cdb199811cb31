"""Encode a clip's recipe as a real, playable MP3 (lameenc) whose decoded length is the recipe's length."""

from __future__ import annotations

import array

import lameenc

from .audio_recipe import Recipe, recipe_pcm
from .melody_score import SAMPLE_RATE

BITRATE_KBPS = 32
# LAME adds its encoder delay and frame padding (about two 576-sample frames at 22050 Hz);
# leaving those samples out makes the file's duration match the clip's metadata.duration.
ENCODER_OVERHEAD_SAMPLES = 1152


def encode_mp3(pcm: array.array[int]) -> bytes:
    trimmed = pcm[: max(0, len(pcm) - ENCODER_OVERHEAD_SAMPLES)]
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(BITRATE_KBPS)
    encoder.set_in_sample_rate(SAMPLE_RATE)
    encoder.set_out_sample_rate(SAMPLE_RATE)
    encoder.set_channels(1)
    encoder.set_quality(7)  # fastest; quality is beside the point here
    encoder.silence()
    return bytes(encoder.encode(trimmed.tobytes()) + encoder.flush())


def render_recipe_mp3(recipe: Recipe) -> bytes:
    return encode_mp3(recipe_pcm(recipe))

"""A short, real, playable MP3: a simple melody seeded from the clip id, encoded with lameenc."""

from __future__ import annotations

import array
import math
import random

import lameenc

SAMPLE_RATE = 22050
BITRATE_KBPS = 32
# LAME adds its encoder delay and frame padding (about two 576-sample frames at 22050 Hz);
# leaving those samples out makes the file's duration match the clip's metadata.duration.
ENCODER_OVERHEAD_SAMPLES = 1152
# A minor pentatonic over two octaves from A3.
SCALE_HZ = tuple(220.0 * 2 ** (step / 12) for step in (0, 3, 5, 7, 10, 12, 15, 17, 19, 22, 24))
AMPLITUDE = 9000


def _note_samples(frequency: float, count: int) -> list[int]:
    """One note with a short attack and a linear fade, plus a soft octave for some colour."""
    step = 2 * math.pi * frequency / SAMPLE_RATE
    attack = max(1, min(count // 10, SAMPLE_RATE // 100))
    fade_from = count * 3 // 5
    fade_len = max(1, count - fade_from)
    sin = math.sin
    samples = []
    for i in range(count):
        envelope = min(1.0, i / attack)
        if i > fade_from:
            envelope *= 1.0 - (i - fade_from) / fade_len
        phase = step * i
        samples.append(int(AMPLITUDE * envelope * (sin(phase) + 0.25 * sin(2 * phase))))
    return samples


def melody_pcm(seed: str, seconds: float) -> array.array[int]:
    """Signed 16-bit mono PCM of about `seconds`, minus the encoder's overhead; the same seed, the same tune."""
    rng = random.Random(f"melody:{seed}")
    total = max(0, round(seconds * SAMPLE_RATE) - ENCODER_OVERHEAD_SAMPLES)
    beat = rng.choice((0.25, 0.3, 0.375))
    pcm: array.array[int] = array.array("h")
    position = rng.randrange(len(SCALE_HZ))
    while len(pcm) < total:
        position = max(0, min(len(SCALE_HZ) - 1, position + rng.choice((-2, -1, -1, 1, 1, 2, 0))))
        count = min(total - len(pcm), int(SAMPLE_RATE * beat * rng.choice((1, 1, 2))))
        pcm.extend(_note_samples(SCALE_HZ[position], count))
    return pcm


def render_melody_mp3(seed: str, seconds: float) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(BITRATE_KBPS)
    encoder.set_in_sample_rate(SAMPLE_RATE)
    encoder.set_out_sample_rate(SAMPLE_RATE)
    encoder.set_channels(1)
    encoder.set_quality(7)  # fastest; quality is beside the point here
    encoder.silence()
    return bytes(encoder.encode(melody_pcm(seed, seconds).tobytes()) + encoder.flush())

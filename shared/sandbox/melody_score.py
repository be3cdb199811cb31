"""An endless tune seeded from a string, as notes, and the 16-bit PCM of any stretch of it.

The notes do not depend on how much of the tune is wanted, so the first N seconds of a clip's audio are
the same samples whether the clip is rendered alone or cut into a concat."""

from __future__ import annotations

import array
import math
import random
from collections.abc import Iterator
from typing import NamedTuple

SAMPLE_RATE = 22050
BASE_PITCH = 57  # MIDI note number of A3 (220 Hz)
# A minor pentatonic over two octaves from A3, in semitones above BASE_PITCH.
SCALE_STEPS = (0, 3, 5, 7, 10, 12, 15, 17, 19, 22, 24)
AMPLITUDE = 9000


class Note(NamedTuple):
    pitch: int  # MIDI note number
    start: int  # first sample, counted from the start of the tune
    length: int  # in samples
    velocity: int  # MIDI velocity, 1..127


def melody_notes(seed: str) -> Iterator[Note]:
    """The tune for `seed`, note after note, forever; the same seed, the same tune."""
    rng = random.Random(f"melody:{seed}")
    beat = rng.choice((0.25, 0.3, 0.375))
    position = rng.randrange(len(SCALE_STEPS))
    start = 0
    while True:
        position = max(0, min(len(SCALE_STEPS) - 1, position + rng.choice((-2, -1, -1, 1, 1, 2, 0))))
        length = int(SAMPLE_RATE * beat * rng.choice((1, 1, 2)))
        yield Note(BASE_PITCH + SCALE_STEPS[position], start, length, rng.randrange(80, 112))
        start += length


def note_frequency(pitch: int) -> float:
    return 440.0 * 2 ** ((pitch - 69) / 12)


def note_samples(note: Note) -> list[int]:
    """One note with a short attack and a linear fade, plus a soft octave for some colour."""
    count = note.length
    step = 2 * math.pi * note_frequency(note.pitch) / SAMPLE_RATE
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


def notes_between(seed: str, first_sample: int, end_sample: int) -> Iterator[Note]:
    """The notes of the tune that sound somewhere in [first_sample, end_sample)."""
    for note in melody_notes(seed):
        if note.start >= end_sample:
            return
        if note.start + note.length > first_sample:
            yield note


def melody_pcm(seed: str, first_sample: int, end_sample: int) -> array.array[int]:
    """Signed 16-bit mono samples [first_sample, end_sample) of the tune for `seed`."""
    pcm: array.array[int] = array.array("h")
    for note in notes_between(seed, first_sample, end_sample):
        samples = note_samples(note)
        pcm.extend(samples[max(0, first_sample - note.start) : min(note.length, end_sample - note.start)])
    return pcm

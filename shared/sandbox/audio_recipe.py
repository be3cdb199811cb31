"""What a clip's audio is made of: stretches of seeded tunes, played one after another.

- A tune: endless notes seeded from a string, and the 16-bit PCM of any stretch of it. The notes do not depend
  on how much of the tune is wanted, so the first N seconds of a clip's audio are the same samples whether the
  clip is rendered alone or cut into a concat.
- A recipe: the stretches a clip plays. A freshly generated clip is one stretch of its own tune; a concat is
  the parent's first `continue_at` seconds followed by the extension; an upload of a sandbox clip reuses that
  clip's recipe. Every file the sandbox serves for a clip (MP3, WAV, MIDI; see ``media_files``) is rendered
  from its recipe, so they all agree in length.
"""

from __future__ import annotations

import array
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
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


def note_samples(note: Note) -> array.array[int]:
    """One note with a short attack and a linear fade, plus a soft octave for some colour."""
    return _tone(note.pitch, note.length)


@lru_cache(maxsize=256)  # a tune has 11 pitches x 6 lengths: every note is computed once per process
def _tone(pitch: int, count: int) -> array.array[int]:
    step = 2 * math.pi * note_frequency(pitch) / SAMPLE_RATE
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
    return array.array("h", samples)


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


@dataclass(frozen=True)
class Segment:
    seed: str  # whose tune
    start_s: float  # where in that tune this stretch starts
    end_s: float

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s

    @property
    def first_sample(self) -> int:
        return round(self.start_s * SAMPLE_RATE)

    @property
    def end_sample(self) -> int:
        return round(self.end_s * SAMPLE_RATE)


Recipe = tuple[Segment, ...]
# A note cut down to less than this by a segment's edge is left out of the note list (not of the audio).
MIN_LISTED_NOTE_SECONDS = 0.01


class PlacedNote(NamedTuple):
    """A note as it sounds in the clip: seconds from the clip's start (what the MIDI export lists)."""

    pitch: int
    start_s: float
    end_s: float
    velocity: int


def fresh_recipe(seed: str, seconds: float) -> Recipe:
    return (Segment(seed, 0.0, max(0.0, seconds)),)


def recipe_seconds(recipe: Recipe) -> float:
    return sum(segment.seconds for segment in recipe)


def cut_recipe(recipe: Recipe, start_s: float, end_s: float) -> Recipe:
    """The stretch [start_s, end_s) of the clip the recipe makes, as a recipe of its own."""
    cut: list[Segment] = []
    offset = 0.0
    for segment in recipe:
        low = max(start_s, offset)
        high = min(end_s, offset + segment.seconds)
        if high > low:
            cut.append(Segment(segment.seed, segment.start_s + low - offset, segment.start_s + high - offset))
        offset += segment.seconds
    return tuple(cut)


def recipe_pcm(recipe: Recipe) -> array.array[int]:
    """Signed 16-bit mono PCM at SAMPLE_RATE."""
    pcm: array.array[int] = array.array("h")
    for segment in recipe:
        pcm.extend(melody_pcm(segment.seed, segment.first_sample, segment.end_sample))
    return pcm


def recipe_notes(recipe: Recipe) -> list[PlacedNote]:
    """Every note that sounds in the clip, cut to the stretches the recipe keeps, in time order (slivers under
    MIN_LISTED_NOTE_SECONDS at a cut are skipped)."""
    placed: list[PlacedNote] = []
    offset = 0
    for segment in recipe:
        first, end = segment.first_sample, segment.end_sample
        for note in notes_between(segment.seed, first, end):
            start = max(note.start, first) - first + offset
            stop = min(note.start + note.length, end) - first + offset
            if stop - start < MIN_LISTED_NOTE_SECONDS * SAMPLE_RATE:
                continue
            placed.append(
                PlacedNote(note.pitch, round(start / SAMPLE_RATE, 4), round(stop / SAMPLE_RATE, 4), note.velocity)
            )
        offset += end - first
    return placed

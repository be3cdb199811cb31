"""What a clip's audio is made of: stretches of seeded tunes, played one after another.

A freshly generated clip is one stretch of its own tune; a concat is the parent's first `continue_at`
seconds followed by the extension; an upload of a sandbox clip reuses that clip's recipe. Every file the
sandbox serves for a clip (MP3, WAV, MIDI) is rendered from its recipe, so they all agree in length."""

from __future__ import annotations

import array
from dataclasses import dataclass
from typing import NamedTuple

from .melody_score import SAMPLE_RATE, melody_pcm, notes_between


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
    """Signed 16-bit mono PCM at melody_score.SAMPLE_RATE."""
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

"""Plausible, deterministic song text from a topic: lyrics with [Verse]/[Chorus] markers, a title, style tags."""

from __future__ import annotations

import random
import re

_STOP_WORDS_TEXT = (
    "a an and the of to in on for with about from by at is are be song songs music track some my your our "
    "make write please that this it its me i you we they verse chorus bridge"
)
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

VERSE_LINES = (
    "Walking through the {a} at the break of day",
    "Every little {a} has a word to say",
    "I carried the {a} a thousand miles",
    "Counting all the {b} between the smiles",
    "Underneath the {a} the city hums",
    "Waiting for the {b} until it comes",
    "Paper boats of {a} drifting down the street",
    "Holding on to {b} in the summer heat",
    "There's a quiet {a} where the rivers bend",
    "Every {b} is a letter to a friend",
)
CHORUS_LINES = (
    "Oh {A}, don't you let me go",
    "Sing it loud, {b}, so the whole world knows",
    "We were born for {a}, we were born to glow",
    "{A}, {A}, take me home",
    "Hold the {b} and never walk alone",
)
GENRES = ("indie pop", "synthwave", "folk rock", "lo-fi hip hop", "dream pop", "funk", "alt country", "electro swing")
MOODS = ("uplifting", "melancholic", "energetic", "dreamy", "warm", "driving", "playful", "nostalgic")
INSTRUMENTS = ("acoustic guitar", "analog synth", "piano", "brass section", "808 drums", "strings", "electric bass")
FALLBACK_WORDS = ("light", "river", "heart", "summer", "road", "night", "rain")


def theme_words(topic: str) -> list[str]:
    words = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z']+", topic)]
    chosen = [w for w in words if w not in STOP_WORDS]
    return chosen or list(FALLBACK_WORDS[:2])


def _line(rng: random.Random, template: str, words: list[str]) -> str:
    a = rng.choice(words)
    b = rng.choice(words + list(FALLBACK_WORDS))
    return template.format(a=a, b=b, A=a.capitalize())


def write_lyrics(topic: str, seed: str) -> str:
    rng = random.Random(f"lyrics:{seed}:{topic}")
    words = theme_words(topic)
    verse_1 = [_line(rng, t, words) for t in rng.sample(VERSE_LINES, 4)]
    verse_2 = [_line(rng, t, words) for t in rng.sample(VERSE_LINES, 4)]
    chorus = [_line(rng, t, words) for t in rng.sample(CHORUS_LINES, 4)]
    sections = [("[Verse]", verse_1), ("[Chorus]", chorus), ("[Verse 2]", verse_2), ("[Chorus]", chorus)]
    return "\n\n".join(marker + "\n" + "\n".join(lines) for marker, lines in sections)


def write_title(topic: str, seed: str) -> str:
    rng = random.Random(f"title:{seed}:{topic}")
    words = theme_words(topic)[:3]
    pattern = rng.choice(("{w}", "Songs of {w}", "{w} Tonight", "The {w} Road", "Chasing {w}"))
    return pattern.format(w=" ".join(word.capitalize() for word in words))


def write_tags(topic: str, seed: str) -> str:
    rng = random.Random(f"tags:{seed}:{topic}")
    return f"{rng.choice(MOODS)} {rng.choice(GENRES)}, {rng.choice(INSTRUMENTS)}"

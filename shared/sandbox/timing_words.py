"""Lyrics timing (GET …/timing/<clip_id>): the words of a clip's lyrics spread evenly over its duration.

Section markers like [Verse] are not sung, so they are left out; each word keeps its punctuation."""

from __future__ import annotations

import random
import re
from typing import Any

SECTION_MARKER = re.compile(r"\[[^\]]*\]")
SUNG_SHARE = 0.85  # of each word's slot; the rest is the gap before the next word


def sung_words(lyrics: str) -> list[str]:
    return SECTION_MARKER.sub(" ", lyrics).split()


def aligned_words(lyrics: str, seconds: float, seed: str) -> list[dict[str, Any]]:
    words = sung_words(lyrics)
    if not words or seconds <= 0:
        return []
    rng = random.Random(f"timing:{seed}")
    slot = seconds / len(words)
    return [
        {
            "word": word,
            "success": True,
            "start_s": round(index * slot, 3),
            "end_s": round(index * slot + slot * SUNG_SHARE, 3),
            "p_align": round(rng.uniform(0.8, 0.99), 3),
        }
        for index, word in enumerate(words)
    ]

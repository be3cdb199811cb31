"""What each upstream call costs, in US dollars (seed 000, "Rate Limits & Pricing")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.cometapi.endpoints import OPERATIONS
from shared.errors import BadRequest

PRICES: dict[str, float] = {
    "music_create": 0.144,  # every music mode except task=extend
    "music_extend": 0.04,
    "lyrics": 0.02,
    "upload": 0.02,
    # The seeds name no price for these; 0.0 means "unknown", not "free".
    "concat": 0.0,
    "separate": 0.0,
    "persona": 0.0,
    "wav": 0.0,
    "midi": 0.0,
    "mp4": 0.0,
    "timing": 0.0,
    "udio": 0.0,
}


def price_for(operation: str, payload: Mapping[str, Any]) -> float:
    """The expected charge for one call: music with ``task: "extend"`` is an extend, other music a create."""
    if operation == "music":
        return PRICES["music_extend"] if payload.get("task") == "extend" else PRICES["music_create"]
    if operation not in OPERATIONS:
        raise BadRequest(f"unknown operation {operation!r}", field="operation")
    return PRICES[operation]

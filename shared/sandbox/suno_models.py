"""The table of Suno model versions (`mv`) the upstream knows, with the dotted spellings the summary uses."""

from __future__ import annotations

from typing import NamedTuple


class SunoModel(NamedTuple):
    name: str  # dashed spelling, what clips report as model_name
    major_version: str  # what clips report as major_model_version


MODELS: dict[str, SunoModel] = {
    model.name: model
    for model in (
        SunoModel("chirp-crow", "v5"),
        SunoModel("chirp-bluejay", "v4.5+"),
        SunoModel("chirp-auk", "v4.5"),
        SunoModel("chirp-v4", "v4"),
        SunoModel("chirp-v4-tau", "v4"),
        SunoModel("chirp-v3-5", "v3.5"),
        SunoModel("chirp-v3-5-tau", "v3.5"),
        SunoModel("chirp-v3-0", "v3"),
    )
}

# The summary (seed 000) spells some versions with dots; both reach the same model.
ALIASES: dict[str, str] = {
    "chirp-v3.5": "chirp-v3-5",
    "chirp-v3.0": "chirp-v3-0",
    "chirp-v3.5-tau": "chirp-v3-5-tau",
}

PERSONA_MODELS: tuple[str, ...] = ("chirp-v3-5-tau", "chirp-v4-tau", "chirp-auk")
# A persona's source song (its root clip) must itself have been made with this model.
PERSONA_SOURCE_MODEL = "chirp-auk"


def find_model(mv: str) -> SunoModel | None:
    return MODELS.get(ALIASES.get(mv, mv))


def known_model_names() -> list[str]:
    return sorted(MODELS)

"""Personas made with /suno/persona/create, kept for artist_consistency to look up."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .music_modes import PersonaFacts


@dataclass(frozen=True)
class PersonaRecord:
    persona_id: str
    name: str
    description: str
    root_clip_id: str
    root_model_name: str  # artist_consistency accepts the persona only if this is chirp-auk
    clip_ids: tuple[str, ...]
    is_public: bool
    created: float


class PersonaBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._personas: dict[str, PersonaRecord] = {}

    def add(self, persona: PersonaRecord) -> None:
        with self._lock:
            self._personas[persona.persona_id] = persona

    def facts(self, persona_id: str) -> PersonaFacts | None:
        with self._lock:
            persona = self._personas.get(persona_id.strip())
        if persona is None:
            return None
        return PersonaFacts(persona.persona_id, persona.root_clip_id, persona.root_model_name)

    def clear(self) -> None:
        with self._lock:
            self._personas.clear()

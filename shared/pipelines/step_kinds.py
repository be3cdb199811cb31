"""What each spec ``op`` means: the hookline operation, fixed and default params, and what it binds from its source.

The step kinds are read from the operation registry (each operation's record lists the ones it offers, music its
modes too); ``STEP_KINDS`` is that view, by op name. A step with ``from: X`` gets the fields in ``binds`` filled
from X's output; ``persona: P`` fills ``persona_id`` from persona step P. Explicit params always win (see
``bindings``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.cometapi.operation_record import (
    CLIP_ID,
    CLIP_ID_LIST,
    CLIPS,
    LYRICS_TEXT,
    LYRICS_TITLE,
    PERSONA_ID,
    SOURCE_MV,
    TASK_ID,
    Operation,
    PipelineStep,
)
from shared.cometapi.operations import LYRICS, MUSIC, PERSONA, REGISTRY, registry_generation

__all__ = [
    "CLIPS",
    "CLIP_ID",
    "CLIP_ID_LIST",
    "DURATION_TOLERANCE",
    "LYRICS",
    "LYRICS_TEXT",
    "LYRICS_TITLE",
    "PERSONA",
    "PERSONA_ID",
    "SOURCE_MV",
    "STEP_KINDS",
    "TASK_ID",
    "StepKind",
    "kind_for",
    "placeholder_params",
]

# A clip's duration is rounded upstream; allow for that when checking a time against it.
DURATION_TOLERANCE = 0.01


@dataclass(frozen=True)
class StepKind:
    """What a spec ``op`` means: the hookline operation, its fixed and default params, and what it binds."""

    name: str
    operation: str
    preset: Mapping[str, Any] = field(default_factory=dict)  # fixed (task=extend); an explicit other value is an error
    defaults: Mapping[str, Any] = field(default_factory=dict)  # used unless given
    takes: str | None = None  # CLIPS | LYRICS: what a `from` source must yield; None: takes no `from`
    binds: Mapping[str, str] = field(default_factory=dict)  # param -> value source
    time_fields: tuple[str, ...] = ()  # seconds into the picked clip: checked against its duration
    yields: str | None = None  # CLIPS | LYRICS | PERSONA | None

    @property
    def takes_persona(self) -> bool:
        return PERSONA_ID in self.binds.values()

    @classmethod
    def of(cls, operation: Operation, step: PipelineStep) -> StepKind:
        return cls(step.name, operation.name, step.preset, step.defaults, step.takes, step.binds, step.time_fields,
                   step.yields)


class _StepKindsView(Mapping[str, StepKind]):
    """Every registered operation's step kinds by op name, rebuilt when the registry changes.

    Music's kinds come first and aliases last: a spec is mostly songs, and an unknown op's error lists the kinds in
    this order.
    """

    def __init__(self) -> None:
        self._built_for = -1
        self._kinds: dict[str, StepKind] = {}

    def _current(self) -> dict[str, StepKind]:
        if self._built_for != registry_generation():
            kinds: dict[str, StepKind] = {}
            aliases: dict[str, StepKind] = {}
            operations = sorted(REGISTRY.values(), key=lambda operation: operation.name != MUSIC)  # stable
            for operation in operations:
                for step in operation.steps:
                    kinds[step.name] = StepKind.of(operation, step)
                    aliases.update(dict.fromkeys(step.aliases, kinds[step.name]))
            self._kinds, self._built_for = {**kinds, **aliases}, registry_generation()
        return self._kinds

    def __getitem__(self, name: str) -> StepKind:
        return self._current()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


STEP_KINDS: Mapping[str, StepKind] = _StepKindsView()


def kind_for(op: str, params: Mapping[str, Any]) -> StepKind | None:
    """The kind of a step: its op, or for an op without a preset (``op: music``/``generate``) whose ``task`` param
    names one of its operation's preset steps (a music mode), that step's kind."""
    kind = STEP_KINDS.get(op)
    task = params.get("task")
    if kind is None or kind.preset or not isinstance(task, str):
        return kind
    preset = next((k for k in STEP_KINDS.values() if k.operation == kind.operation and k.preset.get("task") == task),
                  None)
    return preset or kind


def placeholder_params(kind: StepKind, source: str | None, persona: str | None) -> dict[str, Any]:
    """Stand-ins for the fields the binding will fill, so a spec validates before any step has run."""
    values: dict[str, Any] = {}
    for param, origin in kind.binds.items():
        if origin == PERSONA_ID:
            if persona:
                values[param] = f"<persona of step {persona}>"
        elif source and origin != SOURCE_MV:
            values[param] = {
                CLIP_ID: f"<clip of step {source}>",
                CLIP_ID_LIST: [f"<clip of step {source}>"],
                TASK_ID: f"<task of step {source}>",
                LYRICS_TEXT: f"<lyrics of step {source}>",
                LYRICS_TITLE: f"<title of step {source}>",
            }[origin]
    return values

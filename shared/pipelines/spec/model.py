"""What a validated pipeline spec is: ``Spec`` of ``StepSpec``s, or ``SpecInvalid`` with every error found."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from shared.cometapi.field_rules import DEFAULT_TEXT_LIMITS, TextLimits
from shared.errors import ValidationError
from shared.pipelines.bindings import StepInputs

if TYPE_CHECKING:
    from shared.config import Settings


class SpecInvalid(ValidationError):
    """A pipeline spec has errors (all of them in ``errors``); nothing was written or sent."""

    def __init__(self, errors: list[ValidationError]) -> None:
        self.errors = list(errors)
        lines = "\n".join(f"  {e}" for e in self.errors)
        super().__init__(f"pipeline spec has {len(self.errors)} error(s):\n{lines}", where="spec")

    def as_json(self) -> list[dict[str, Any]]:
        return [{"where": e.where, "field": e.field, "message": e.message} for e in self.errors]


@dataclass(frozen=True)
class SpecLimits:
    """What one spec may ask for: steps (HOOKLINE_MAX_PIPELINE_STEPS), jobs per ``each`` (HOOKLINE_MAX_FAN_OUT),
    and the lengths of prompt, tags and title. The defaults are the settings' defaults."""

    max_steps: int = 50
    max_fan_out: int = 10
    text: TextLimits = DEFAULT_TEXT_LIMITS

    @classmethod
    def of(cls, settings: Settings) -> SpecLimits:
        text = TextLimits(settings.max_prompt_chars, settings.max_tags_chars, settings.max_title_chars)
        return cls(settings.max_pipeline_steps, settings.max_fan_out, text)


DEFAULT_SPEC_LIMITS = SpecLimits()


@dataclass(frozen=True)
class StepSpec(StepInputs):
    """One validated step; ``params`` are the explicit ones with vars substituted."""

    op: str = ""
    position: int = 0

    @property
    def operation(self) -> str:
        return self.kind.operation

    @property
    def depends_on(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for name in (self.source, self.persona) if name))


@dataclass(frozen=True)
class Spec:
    name: str | None
    steps: Mapping[str, StepSpec]  # in declaration order
    order: tuple[str, ...]  # topological, stable by declaration
    document: dict[str, Any]  # what is stored on the pipeline row and parsed again on each advance

    def dependents(self, name: str) -> list[str]:
        return [s.name for s in self.steps.values() if name in s.depends_on]

    @cached_property
    def fan_roots(self) -> dict[str, str | None]:
        """Per step: the ``each`` step its jobs fan out from (itself, or up its ``from`` chain), or None."""
        roots: dict[str, str | None] = {}
        for name in self.order:
            step = self.steps[name]
            roots[name] = name if step.pick == "each" else roots.get(step.source or "")
        return roots

    def is_fanned(self, name: str) -> bool:
        return self.fan_roots[name] is not None

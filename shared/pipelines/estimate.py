"""What a pipeline spec will cost at most, from the operation registry's prices, before anything is written.

Each step is priced with the params it will send (its kind's defaults and presets, stand-ins for bound fields): an
``extend`` step is priced as an extend, other music as a create. A fanned step (``pick: each``, and the steps that
follow it 1:1) is counted at the fan-out cap (``HOOKLINE_MAX_FAN_OUT``): the real fan-out is known only when the
source's clips arrive, so the estimate is the worst case, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.cometapi import price_for
from shared.pipelines.spec.model import Spec
from shared.pipelines.step_kinds import placeholder_params


@dataclass(frozen=True)
class CostEstimate:
    """The most a piece of work may cost, in USD, and what was assumed to get there (None: nothing)."""

    usd: float
    note: str | None = None

    def __add__(self, other: CostEstimate) -> CostEstimate:
        notes = [n for n in (self.note, other.note) if n]
        return CostEstimate(self.usd + other.usd, notes[0] if notes else None)

    def as_json(self) -> dict[str, float | str | None]:
        return {"estimated_cost_usd": round(self.usd, 6), "estimate_note": self.note}


NOTHING = CostEstimate(0.0)


def fan_out_note(max_fan_out: int) -> str:
    return (f"worst case: each `pick: each` step counted at the fan-out cap of {max_fan_out} jobs "
            "(HOOKLINE_MAX_FAN_OUT); the real fan-out is known when the source step's clips arrive")


def step_price(spec: Spec, name: str) -> float:
    """One job of step ``name``: the registry's price for the params it will send."""
    step = spec.steps[name]
    kind = step.kind
    params = {**kind.defaults, **placeholder_params(kind, step.source, step.persona), **step.params, **kind.preset}
    return price_for(kind.operation, params)


def estimate_spec(spec: Spec, max_fan_out: int) -> CostEstimate:
    """The sum of every step's price, fanned steps times ``max_fan_out``."""
    fanned = any(spec.is_fanned(name) for name in spec.steps)
    total = sum(step_price(spec, name) * (max_fan_out if spec.is_fanned(name) else 1) for name in spec.steps)
    return CostEstimate(total, fan_out_note(max_fan_out) if fanned else None)

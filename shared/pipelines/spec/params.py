"""Check a step's params before anything runs: bound fields get stand-ins, then the producer's own validator runs.

Unknown params are all reported (not just the first); then one more error from ``validate_job`` (a missing
required field, a bad value) if the rest does not pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.cometapi.field_rules import DEFAULT_TEXT_LIMITS, TextLimits
from shared.cometapi.validation import accepted_fields
from shared.errors import ValidationError
from shared.pipelines.step_kinds import placeholder_params
from shared.producer import validate_job

if TYPE_CHECKING:
    from shared.pipelines.spec.model import StepSpec


def check_params(step: StepSpec, errors: list[ValidationError], text_limits: TextLimits = DEFAULT_TEXT_LIMITS) -> None:
    where = f"step {step.name}"
    kind = step.kind
    for key, value in kind.preset.items():
        if key in step.params and step.params[key] != value:
            errors.append(ValidationError(f"op {step.op} sends {key}={value!r}; leave {key} out (or use op: music)",
                                          field=f"params.{key}", where=where))
            return
    merged = {**kind.defaults, **placeholder_params(kind, step.source, step.persona), **step.params, **kind.preset}
    accepted = accepted_fields(kind.operation, merged)
    unknown = [k for k in step.params if accepted is not None and k not in accepted and k != "notify_hook"]
    for key in unknown:
        listed = ", ".join(sorted(accepted or ()))
        errors.append(ValidationError(f"unknown param {key!r} for op {step.op}; accepted: {listed}",
                                      field=f"params.{key}", where=where))
    try:
        validate_job(kind.operation, {k: v for k, v in merged.items() if k not in unknown}, where=where,
                     text_limits=text_limits)
    except ValidationError as exc:
        errors.append(exc)

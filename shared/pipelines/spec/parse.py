"""A pipeline spec (YAML/JSON, already loaded into a dict) -> a validated ``Spec``, or ``SpecInvalid`` with every error.

Format::

    name: long-song                 # optional
    vars: {continue_at: 60}         # optional; ${continue_at} in params is replaced (typed when it is the whole value)
    steps:                          # a mapping, in order: step name -> step
      song:   {op: generate, params: {...}}
      extend: {op: extend, from: song, pick: 0, params: {continue_at: "${continue_at}"}}
      voice:  {op: persona, from: song, params: {name: Harbour}}
      second: {op: artist_consistency, from: song, persona: voice, params: {...}}

``op`` is a hookline operation or a music mode (``bindings.STEP_KINDS``); ``from`` names the step whose output this
one binds (``pick``: a clip index, ``longest``, or ``each`` to fan out; default 0); ``persona`` names a persona step.
Errors name the step (``where="step <name>"``) and the field; all of them are reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shared.errors import ValidationError
from shared.pipelines.spec.graph import check_links, topological_order
from shared.pipelines.spec.model import DEFAULT_SPEC_LIMITS, Spec, SpecInvalid, SpecLimits, StepSpec
from shared.pipelines.spec.params import check_params
from shared.pipelines.spec.values import VAR_NAME, is_json_value, substitute_vars
from shared.pipelines.step_kinds import STEP_KINDS, kind_for

STEP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
TOP_KEYS = ("name", "description", "vars", "steps")
STEP_KEYS = ("op", "params", "from", "pick", "persona", "description")
NAMED_PICKS = ("longest", "each")


def _error(errors: list[ValidationError], where: str, field: str | None, message: str) -> None:
    errors.append(ValidationError(message, field=field, where=where))


def _check_top(document: Any, errors: list[ValidationError]) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(document, dict):
        _error(errors, "spec", None, "a pipeline spec must be a mapping with a `steps:` mapping")
        return {}, {}
    for key in document:
        if key not in TOP_KEYS:
            _error(errors, "spec", str(key), f"unknown key {key!r}; expected {', '.join(TOP_KEYS)}")
    name = document.get("name")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 128):
        _error(errors, "spec", "name", "must be text of 1 to 128 characters")
    variables = document.get("vars", {})
    if not isinstance(variables, dict):
        _error(errors, "spec", "vars", "must be a mapping of name to value")
        variables = {}
    for key, value in variables.items():
        if not isinstance(key, str) or not VAR_NAME.match(key):
            _error(errors, "spec", f"vars.{key}", "var names are letters, digits and _ (not starting with a digit)")
        elif not is_json_value(value):
            _error(errors, "spec", f"vars.{key}", "must be a JSON value (text, number, true/false, list, object)")
    steps = document.get("steps")
    if isinstance(steps, list):
        _error(errors, "spec", "steps", "must be a mapping of step name to step, not a list")
    elif not isinstance(steps, dict) or not steps:
        _error(errors, "spec", "steps", "is required: a mapping of step name to step")
    return (steps if isinstance(steps, dict) else {}), variables


def _parse_pick(raw: Any, where: str, errors: list[ValidationError]) -> int | str | None:
    if raw is None:
        return None
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    if raw in NAMED_PICKS:
        return str(raw)
    _error(errors, where, "pick", f"must be a clip index (0, 1, …), longest or each; got {raw!r}")
    return None


def _parse_step(name: Any, raw: Any, position: int, variables: Mapping[str, Any],
                errors: list[ValidationError], limits: SpecLimits) -> StepSpec | None:
    where = f"step {name}"
    if not isinstance(name, str) or not STEP_NAME.match(name):
        _error(errors, where, "name", "step names are 1-64 letters, digits, _ or -, starting with a letter or digit")
        return None
    if not isinstance(raw, dict):
        _error(errors, where, None, "a step must be a mapping with at least `op`")
        return None
    for key in raw:
        if key not in STEP_KEYS:
            _error(errors, where, str(key), f"unknown key {key!r}; expected {', '.join(STEP_KEYS)}")
    params = raw.get("params", {})
    if not isinstance(params, dict):
        _error(errors, where, "params", "must be a mapping of upstream field to value")
        params = {}
    before = len(errors)
    params = substitute_vars(params, variables, field="params", where=where, errors=errors)
    vars_resolved = len(errors) == before
    op = raw.get("op")
    kind = kind_for(op, params) if isinstance(op, str) else None
    if kind is None:
        expected = ", ".join(STEP_KINDS)
        _error(errors, where, "op", f"unknown op {op!r}; expected one of {expected}" if op else
               f"is required: one of {expected}")
    refs = {}
    for key in ("from", "persona"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            _error(errors, where, key, "must be the name of another step")
            value = None
        refs[key] = value
    pick = _parse_pick(raw.get("pick"), where, errors)
    if pick is not None and not refs["from"]:
        _error(errors, where, "pick", "only applies with `from`")
    if kind is None:
        return None
    step = StepSpec(name=name, kind=kind, params=params, source=refs["from"], pick=pick, persona=refs["persona"],
                    op=str(op), position=position)
    if vars_resolved:  # else a field's value is unknown, and the validator would only repeat the var error
        check_params(step, errors, limits.text)
    return step


def parse_spec(document: Any, limits: SpecLimits = DEFAULT_SPEC_LIMITS) -> Spec:
    """Validate the whole spec; raise SpecInvalid with every error found. Nothing is written. ``limits``: the
    configured ones (``SpecLimits.of(settings)``); a spec over the step limit is refused before its steps are read."""
    errors: list[ValidationError] = []
    raw_steps, variables = _check_top(document, errors)
    if len(raw_steps) > limits.max_steps:
        raise SpecInvalid([ValidationError(f"{len(raw_steps)} steps; a pipeline may have at most {limits.max_steps} "
                                           "(raise it with HOOKLINE_MAX_PIPELINE_STEPS)", field="steps", where="spec")])
    steps: dict[str, StepSpec] = {}
    for position, (name, raw) in enumerate(raw_steps.items()):
        step = _parse_step(name, raw, position, variables, errors, limits)
        if step is not None:
            steps[step.name] = step
    names = [str(name) for name in raw_steps]
    for step in steps.values():
        for key, target in (("from", step.source), ("persona", step.persona)):
            if target == step.name:
                _error(errors, f"step {step.name}", key, f"cycle: {step.name} -> {step.name}")
            elif target and target not in names:
                _error(errors, f"step {step.name}", key, f"no step named {target!r} (steps: {', '.join(names)})")
    acyclic = {n: s for n, s in steps.items() if n not in (s.source, s.persona)}
    order, has_cycle = topological_order(acyclic, errors)
    spec = Spec(name=document.get("name") if isinstance(document, dict) else None, steps=acyclic, order=order,
                document=document if isinstance(document, dict) else {})
    check_links(spec, errors)
    if errors or has_cycle:
        positions = {f"step {name}": i for i, name in enumerate(names)}
        raise SpecInvalid(sorted(errors, key=lambda e: positions.get(e.where or "", -1)))
    return spec

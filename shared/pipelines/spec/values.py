"""Spec values: ``${var}`` substitution from the ``vars:`` block, and ``--set`` overrides of vars and params."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from shared.errors import ValidationError

VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VAR_REF = re.compile(r"\$\{([^}]*)\}")
JSON_SCALARS = (str, int, float, bool, type(None))


def is_json_value(value: Any) -> bool:
    if isinstance(value, JSON_SCALARS):
        return True
    if isinstance(value, list):
        return all(is_json_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_json_value(v) for k, v in value.items())
    return False


def substitute_vars(value: Any, variables: Mapping[str, Any], *, field: str, where: str,
                    errors: list[ValidationError]) -> Any:
    """``value`` with every ``${name}`` replaced. A string that is exactly ``${name}`` takes the var's own type
    (so ``continue_at: ${continue_at}`` stays a number); inside a longer string the var is written as text."""
    if isinstance(value, dict):
        return {k: substitute_vars(v, variables, field=f"{field}.{k}", where=where, errors=errors)
                for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_vars(v, variables, field=f"{field}[{i}]", where=where, errors=errors)
                for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = VAR_REF.fullmatch(value)
    if whole:
        return _lookup(whole.group(1), variables, field=field, where=where, errors=errors)

    def text_of(match: re.Match[str]) -> str:
        found = _lookup(match.group(1), variables, field=field, where=where, errors=errors)
        return "" if found is None else str(found).lower() if isinstance(found, bool) else str(found)

    return VAR_REF.sub(text_of, value)


def _lookup(name: str, variables: Mapping[str, Any], *, field: str, where: str,
            errors: list[ValidationError]) -> Any:
    if name not in variables:
        known = ", ".join(sorted(variables)) or "none declared"
        errors.append(ValidationError(f"unknown var ${{{name}}} (vars: {known})", field=field, where=where))
        return None
    return variables[name]


def apply_overrides(document: Any, overrides: Mapping[str, Any]) -> Any:
    """A copy of the spec with overrides applied: ``name=value`` sets a declared var, ``step.param=value`` (or
    ``step.param.sub=value``) sets a step's param. Raises SpecInvalid naming every bad key."""
    from shared.pipelines.spec.model import SpecInvalid

    if not overrides:
        return document
    if not isinstance(document, dict):
        raise SpecInvalid([ValidationError("the spec must be a mapping", field="spec", where="spec")])
    result = copy.deepcopy(document)
    errors: list[ValidationError] = []
    raw_steps = result.get("steps")
    steps: dict[str, Any] = raw_steps if isinstance(raw_steps, dict) else {}
    for key, value in overrides.items():
        where = f"--set {key}"
        if not is_json_value(value):
            errors.append(ValidationError("value must be JSON (text, number, true/false, list, object)",
                                          field=key, where=where))
            continue
        head, _, rest = key.partition(".")
        if not rest:
            variables = result.get("vars")
            if not isinstance(variables, dict) or head not in variables:
                known = ", ".join(sorted(variables)) if isinstance(variables, dict) and variables else "none declared"
                errors.append(ValidationError(f"unknown var {head!r} (vars: {known}); use <step>.<param> "
                                              "to set a step's param", field=key, where=where))
                continue
            variables[head] = value
            continue
        step = steps.get(head)
        if not isinstance(step, dict):
            known = ", ".join(steps) or "none"
            errors.append(ValidationError(f"no step {head!r} (steps: {known})", field=key, where=where))
            continue
        target = step.setdefault("params", {})
        *path, last = rest.split(".")
        for part in path:
            if not isinstance(target, dict):
                break
            target = target.setdefault(part, {})
        if not isinstance(target, dict) or not last:
            errors.append(ValidationError(f"{rest!r} does not name a param of step {head!r}", field=key,
                                          where=where))
            continue
        target[last] = value
    if errors:
        raise SpecInvalid(errors)
    return result

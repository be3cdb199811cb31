"""The graph checks of a spec: a topological order (reporting cycles), and what `from` / `persona` may point at."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from shared.errors import ValidationError
from shared.pipelines.step_kinds import CLIPS, PERSONA

if TYPE_CHECKING:
    from shared.pipelines.spec.model import Spec, StepSpec


def _error(errors: list[ValidationError], where: str, field: str | None, message: str) -> None:
    errors.append(ValidationError(message, field=field, where=where))


def topological_order(steps: Mapping[str, StepSpec], errors: list[ValidationError]) -> tuple[tuple[str, ...], bool]:
    """Declaration-stable topological order, and whether there is a cycle (each one reported once).
    With a cycle every step is still listed once, so later checks can run without looping."""
    order: list[str] = []
    state: dict[str, str] = {}  # visiting | done

    def visit(name: str, trail: list[str]) -> bool:
        if state.get(name) == "done":
            return True
        if state.get(name) == "visiting":
            loop = trail[trail.index(name):]
            start = loop.index(min(loop, key=lambda n: steps[n].position))
            cycle = loop[start:] + loop[:start]
            edge = "from" if steps[cycle[0]].source in cycle else "persona"
            _error(errors, f"step {cycle[0]}", edge, "cycle: " + " -> ".join([*cycle, cycle[0]]))
            return False
        state[name] = "visiting"
        ok = all(visit(dep, [*trail, name]) for dep in steps[name].depends_on if dep in steps)
        state[name] = "done"
        order.append(name)
        return ok

    ok = True
    for name in steps:
        ok = visit(name, []) and ok
    return tuple(order), not ok


def check_links(spec: Spec, errors: list[ValidationError]) -> None:
    """What each `from` / `persona` may point at (refs to unknown steps are reported elsewhere)."""
    for step in spec.steps.values():
        where = f"step {step.name}"
        source = spec.steps.get(step.source or "")
        if source is not None:
            if step.kind.takes is None:
                _error(errors, where, "from", f"op {step.op} takes no input from another step")
            elif source.kind.yields != step.kind.takes:
                yields = source.kind.yields or "nothing"
                _error(errors, where, "from", f"op {step.op} takes {step.kind.takes} but step {source.name} "
                       f"({source.op}) yields {yields}")
            elif step.pick is not None and step.kind.takes != CLIPS:
                _error(errors, where, "pick", f"step {source.name} yields {source.kind.yields}, not clips to pick")
            if step.pick == "each" and spec.is_fanned(source.name):
                _error(errors, where, "pick", f"step {source.name} already fans out; nested fan-out is not "
                       "supported (a step from a fanned step fans out 1:1 by itself)")
        if step.persona in spec.steps:
            _check_persona(spec, step, errors)


def _check_persona(spec: Spec, step: StepSpec, errors: list[ValidationError]) -> None:
    where = f"step {step.name}"
    target = spec.steps[step.persona or ""]
    if not step.kind.takes_persona:
        _error(errors, where, "persona", f"op {step.op} takes no persona (artist_consistency does)")
    elif target.kind.yields != PERSONA:
        _error(errors, where, "persona", f"step {target.name} is a {target.op} step, not a persona step")
    elif spec.fan_roots[target.name] not in (None, spec.fan_roots[step.name]):
        _error(errors, where, "persona", f"step {target.name} fans out; only steps of the same fan may use it")
    elif (song := spec.steps.get(target.source or "")) is not None:
        mv = song.params.get("mv")
        if isinstance(mv, str) and mv.strip().lower() != "chirp-auk":
            _error(errors, where, "persona", f"the persona of step {target.name} comes from step {song.name}, made "
                   f"with mv {mv!r}; artist_consistency needs a persona from a chirp-auk song")

"""What happens next in a pipeline, as a pure function of its spec, step rows and job rows.

``plan_advance`` says which dispatched steps have finished (from their jobs), which pending steps are skipped
(a step they depend on failed, was skipped or canceled), which are ready (every dependency succeeded), and
what the pipeline's status is then. Running it twice on the same rows gives the same plan.

Rules:
- A step's *current* jobs are the newest job per ``fan_index`` (a retry adds newer ones; older ones stop counting).
- A dispatched step finishes when all its current jobs are terminal: succeeded if all succeeded, else failed
  with the first failing job's reason. A fanned step waits for every branch, so a retry knows which to re-run.
- Skips propagate down the whole DAG in one plan, each carrying the root cause.
- Independent branches keep going after a failure; the pipeline is ``failed`` once nothing is left to run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from shared.pipelines.spec import Spec

PENDING = "pending"
DISPATCHED = "dispatched"
SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"
CANCELED = "canceled"
STEP_BROKEN = frozenset({FAILED, SKIPPED, CANCELED})

RUNNING = "running"  # pipeline statuses: running | succeeded | failed | canceled
TERMINAL_JOB = frozenset({"succeeded", "failed", "canceled"})


@dataclass(frozen=True)
class StepRow:
    name: str
    status: str
    reason: str | None = None
    generation: int = 0


@dataclass(frozen=True)
class JobRow:
    id: str
    step: str
    fan_index: int | None
    status: str
    error: str | None
    created_at: datetime


@dataclass(frozen=True)
class Plan:
    finished: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # step -> (succeeded|failed, reason)
    skipped: dict[str, str] = field(default_factory=dict)  # step -> reason
    ready: tuple[str, ...] = ()
    status: str = RUNNING  # the pipeline's, once the plan is applied and the ready steps dispatched
    error: str | None = None

    @property
    def changes_anything(self) -> bool:
        return bool(self.finished or self.skipped or self.ready)


def current_jobs(jobs: Iterable[JobRow]) -> dict[str, list[JobRow]]:
    """Per step, the newest job of each fan branch, in branch order."""
    newest: dict[tuple[str, int | None], JobRow] = {}
    for job in jobs:
        key = (job.step, job.fan_index)
        seen = newest.get(key)
        if seen is None or (job.created_at, job.id) > (seen.created_at, seen.id):
            newest[key] = job
    by_step: dict[str, list[JobRow]] = {}
    for (step, _), job in sorted(newest.items(), key=lambda item: (item[0][0], _branch(item[0][1]))):
        by_step.setdefault(step, []).append(job)
    return by_step


def _branch(fan_index: int | None) -> int:
    return -1 if fan_index is None else fan_index


def step_outcome(jobs: list[JobRow]) -> tuple[str, str | None] | None:
    """(succeeded|failed, reason) once every job is terminal; None while any is still going."""
    if not jobs:
        return FAILED, "dispatched, but it has no jobs"
    if any(job.status not in TERMINAL_JOB for job in jobs):
        return None
    bad = [job for job in jobs if job.status != "succeeded"]
    if not bad:
        return SUCCEEDED, None
    job = bad[0]
    branch = f" (branch {job.fan_index})" if job.fan_index is not None else ""
    what = job.error or job.status
    more = f"; {len(bad) - 1} more branch(es) failed" if len(bad) > 1 else ""
    return FAILED, f"job {job.id}{branch} {job.status}: {what}{more}"


def _skip_reason(dep: str, status: str, reason: str | None) -> str:
    if status == SKIPPED and reason:
        return reason  # already names the root cause
    if status == CANCELED:
        return f"step {dep} was canceled"
    return f"step {dep} failed: {reason or 'no reason recorded'}"


def _pipeline_status(spec: Spec, status: Mapping[str, str], reasons: Mapping[str, str | None]) -> tuple[str, str | None]:
    if all(status[name] == SUCCEEDED for name in spec.steps):
        return SUCCEEDED, None
    if any(status[name] in (PENDING, DISPATCHED) for name in spec.steps):
        return RUNNING, None
    failed = [f"step {name} {status[name]}: {reasons.get(name) or 'no reason recorded'}"
              for name in spec.order if status[name] in (FAILED, CANCELED)]
    skipped = sum(1 for name in spec.steps if status[name] == SKIPPED)
    return FAILED, "; ".join(failed) + (f" ({skipped} step(s) skipped)" if skipped else "")


def plan_advance(spec: Spec, steps: Mapping[str, StepRow], jobs: Iterable[JobRow]) -> Plan:
    status = {name: steps[name].status if name in steps else PENDING for name in spec.steps}
    reasons: dict[str, str | None] = {name: steps[name].reason if name in steps else None for name in spec.steps}
    current = current_jobs(jobs)
    finished: dict[str, tuple[str, str | None]] = {}
    for name in spec.order:
        if status[name] == DISPATCHED:
            outcome = step_outcome(current.get(name, []))
            if outcome is not None:
                finished[name] = outcome
                status[name], reasons[name] = outcome
    skipped: dict[str, str] = {}
    for name in spec.order:  # dependencies first, so one pass carries a skip all the way down
        if status[name] != PENDING:
            continue
        broken = next((dep for dep in spec.steps[name].depends_on if status[dep] in STEP_BROKEN), None)
        if broken is not None:
            reason = _skip_reason(broken, status[broken], reasons[broken])
            skipped[name] = reason
            status[name], reasons[name] = SKIPPED, reason
    ready = tuple(name for name in spec.order if status[name] == PENDING
                  and all(status[dep] == SUCCEEDED for dep in spec.steps[name].depends_on))
    pipeline_status, error = _pipeline_status(spec, status, reasons)
    return Plan(finished=finished, skipped=skipped, ready=ready, status=pipeline_status, error=error)

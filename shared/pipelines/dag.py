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
from typing import TYPE_CHECKING

from shared.pipelines.spec import Spec
from shared.states import JobStatus, PipelineStatus, StepStatus

if TYPE_CHECKING:
    from shared.models import Job

Step = StepStatus


@dataclass(frozen=True)
class StepRow:
    name: str
    status: str  # a StepStatus word, as stored
    reason: str | None = None
    generation: int = 0


@dataclass(frozen=True)
class JobRow:
    id: str
    step: str
    fan_index: int | None
    status: str  # a JobStatus word, as stored
    error: str | None
    created_at: datetime


@dataclass(frozen=True)
class Plan:
    finished: dict[str, tuple[StepStatus, str | None]] = field(default_factory=dict)  # step -> (succeeded|failed, why)
    skipped: dict[str, str] = field(default_factory=dict)  # step -> reason
    ready: tuple[str, ...] = ()
    status: PipelineStatus = PipelineStatus.RUNNING  # the pipeline's, once the plan is applied and steps dispatched
    error: str | None = None

    @property
    def changes_anything(self) -> bool:
        return bool(self.finished or self.skipped or self.ready)


def job_rows(jobs: Iterable[Job]) -> list[JobRow]:
    """The pipeline's job rows, as the plan reads them."""
    return [JobRow(j.id, j.step_name or "", j.fan_index, j.status, j.error, j.created_at) for j in jobs]


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


def step_outcome(jobs: list[JobRow]) -> tuple[StepStatus, str | None] | None:
    """(succeeded|failed, reason) once every job is terminal; None while any is still going."""
    if not jobs:
        return Step.FAILED, "dispatched, but it has no jobs"
    if not all(JobStatus(job.status).terminal for job in jobs):
        return None
    bad = [job for job in jobs if job.status != JobStatus.SUCCEEDED]
    if not bad:
        return Step.SUCCEEDED, None
    job = bad[0]
    branch = f" (branch {job.fan_index})" if job.fan_index is not None else ""
    what = job.error or job.status
    more = f"; {len(bad) - 1} more branch(es) failed" if len(bad) > 1 else ""
    return Step.FAILED, f"job {job.id}{branch} {job.status}: {what}{more}"


def _skip_reason(dep: str, status: StepStatus, reason: str | None) -> str:
    if status is Step.SKIPPED and reason:
        return reason  # already names the root cause
    if status is Step.CANCELED:
        return f"step {dep} was canceled"
    return f"step {dep} failed: {reason or 'no reason recorded'}"


def _pipeline_status(spec: Spec, status: Mapping[str, StepStatus],
                     reasons: Mapping[str, str | None]) -> tuple[PipelineStatus, str | None]:
    if all(status[name] is Step.SUCCEEDED for name in spec.steps):
        return PipelineStatus.SUCCEEDED, None
    if any(status[name] in (Step.PENDING, Step.DISPATCHED) for name in spec.steps):
        return PipelineStatus.RUNNING, None
    failed = [f"step {name} {status[name].value}: {reasons.get(name) or 'no reason recorded'}"
              for name in spec.order if status[name] in (Step.FAILED, Step.CANCELED)]
    skipped = sum(1 for name in spec.steps if status[name] is Step.SKIPPED)
    return PipelineStatus.FAILED, "; ".join(failed) + (f" ({skipped} step(s) skipped)" if skipped else "")


def plan_advance(spec: Spec, steps: Mapping[str, StepRow], jobs: Iterable[JobRow]) -> Plan:
    status = {name: Step(steps[name].status) if name in steps else Step.PENDING for name in spec.steps}
    reasons: dict[str, str | None] = {name: steps[name].reason if name in steps else None for name in spec.steps}
    current = current_jobs(jobs)
    finished: dict[str, tuple[StepStatus, str | None]] = {}
    for name in spec.order:
        if status[name] is Step.DISPATCHED:
            outcome = step_outcome(current.get(name, []))
            if outcome is not None:
                finished[name] = outcome
                status[name], reasons[name] = outcome
    skipped: dict[str, str] = {}
    for name in spec.order:  # dependencies first, so one pass carries a skip all the way down
        if status[name] is not Step.PENDING:
            continue
        broken = next((dep for dep in spec.steps[name].depends_on if status[dep].broken), None)
        if broken is not None:
            reason = _skip_reason(broken, status[broken], reasons[broken])
            skipped[name] = reason
            status[name], reasons[name] = Step.SKIPPED, reason
    ready = tuple(name for name in spec.order if status[name] is Step.PENDING
                  and all(status[dep] is Step.SUCCEEDED for dep in spec.steps[name].depends_on))
    pipeline_status, error = _pipeline_status(spec, status, reasons)
    return Plan(finished=finished, skipped=skipped, ready=ready, status=pipeline_status, error=error)

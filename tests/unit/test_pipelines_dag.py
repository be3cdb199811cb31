"""The pure DAG: which steps finish, which are skipped (and why), which are ready, and the pipeline's status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.pipelines import parse_spec
from shared.pipelines.dag import JobRow, Plan, StepRow, current_jobs, plan_advance

T0 = datetime(2025, 1, 1, tzinfo=UTC)
SONG = {"op": "generate", "params": {"prompt": "[Verse] la", "tags": "pop", "title": "T", "mv": "chirp-auk"}}
EXT = {"op": "extend", "from": "song", "params": {"continue_at": 3}}

# song -> ext -> whole -> wav ; song -> voice (an independent branch)
SPEC = parse_spec({"steps": {
    "song": SONG,
    "ext": EXT,
    "whole": {"op": "concat", "from": "ext"},
    "wav": {"op": "wav", "from": "whole"},
    "voice": {"op": "persona", "from": "song", "params": {"name": "V"}},
}})


def rows(**statuses: str) -> dict[str, StepRow]:
    return {name: StepRow(name, statuses.get(name, "pending")) for name in SPEC.steps}


def job(step: str, status: str, *, fan: int | None = None, n: int = 0, error: str | None = None) -> JobRow:
    return JobRow(f"{step}-{fan}-{n}", step, fan, status, error, T0 + timedelta(seconds=n))


def apply(spec, steps: dict[str, StepRow], plan: Plan) -> dict[str, StepRow]:
    """What the advancer writes for a plan (ready steps dispatched)."""
    out = dict(steps)
    for name, (status, reason) in plan.finished.items():
        out[name] = StepRow(name, status, reason)
    for name, reason in plan.skipped.items():
        out[name] = StepRow(name, "skipped", reason)
    for name in plan.ready:
        out[name] = StepRow(name, "dispatched")
    return out


def test_a_new_pipeline_readies_its_roots_only():
    plan = plan_advance(SPEC, rows(), [])
    assert plan == Plan(ready=("song",), status="running")


def test_a_succeeded_job_finishes_its_step_and_readies_its_dependents():
    plan = plan_advance(SPEC, rows(song="dispatched"), [job("song", "succeeded")])
    assert plan.finished == {"song": ("succeeded", None)}
    assert plan.ready == ("ext", "voice") and plan.status == "running"


def test_a_step_still_running_changes_nothing():
    plan = plan_advance(SPEC, rows(song="dispatched"), [job("song", "streaming")])
    assert plan == Plan(status="running") and not plan.changes_anything


def test_planning_twice_on_the_applied_rows_is_a_no_op():
    steps = rows(song="dispatched")
    jobs = [job("song", "succeeded")]
    first = plan_advance(SPEC, steps, jobs)
    steps = apply(SPEC, steps, first)
    jobs += [job(name, "queued") for name in first.ready]  # what the dispatch of the ready steps adds
    second = plan_advance(SPEC, steps, jobs)
    assert first.changes_anything and not second.changes_anything
    assert plan_advance(SPEC, steps, jobs) == second


def test_failure_skips_every_dependent_with_the_root_cause_while_the_other_branch_goes_on():
    steps = rows(song="succeeded", ext="dispatched", voice="dispatched")
    jobs = [job("song", "succeeded"), job("ext", "failed", error="lyrics flagged"), job("voice", "running")]
    plan = plan_advance(SPEC, steps, jobs)
    assert plan.finished == {"ext": ("failed", "job ext-None-0 failed: lyrics flagged")}
    assert plan.skipped == {"whole": "step ext failed: job ext-None-0 failed: lyrics flagged",
                            "wav": "step ext failed: job ext-None-0 failed: lyrics flagged"}
    assert plan.ready == () and plan.status == "running"  # voice is still going

    steps = apply(SPEC, steps, plan)
    done = plan_advance(SPEC, steps, [*jobs[:2], job("voice", "succeeded")])
    assert done.finished == {"voice": ("succeeded", None)}
    assert done.status == "failed"
    assert done.error == "step ext failed: job ext-None-0 failed: lyrics flagged (2 step(s) skipped)"


def test_a_canceled_job_fails_its_step_and_a_canceled_step_skips_dependents():
    plan = plan_advance(SPEC, rows(song="dispatched"), [job("song", "canceled")])
    assert plan.finished == {"song": ("failed", "job song-None-0 canceled: canceled")}
    assert set(plan.skipped) == {"ext", "whole", "wav", "voice"}
    assert plan.status == "failed"
    after_cancel = plan_advance(SPEC, rows(song="canceled"), [])
    assert after_cancel.skipped["ext"] == "step song was canceled"


def test_all_steps_succeeded_is_a_succeeded_pipeline():
    plan = plan_advance(SPEC, rows(**{n: "succeeded" for n in SPEC.steps}), [])
    assert plan == Plan(status="succeeded")


FAN = parse_spec({"steps": {
    "song": SONG,
    "ext": {**EXT, "pick": "each"},
    "whole": {"op": "concat", "from": "ext"},
}})


def test_a_fanned_step_waits_for_every_branch():
    steps = {"song": StepRow("song", "succeeded"), "ext": StepRow("ext", "dispatched"),
             "whole": StepRow("whole", "pending")}
    partly = [job("song", "succeeded"), job("ext", "succeeded", fan=0), job("ext", "running", fan=1)]
    assert plan_advance(FAN, steps, partly) == Plan(status="running")
    done = [*partly[:2], job("ext", "succeeded", fan=1)]
    plan = plan_advance(FAN, steps, done)
    assert plan.finished == {"ext": ("succeeded", None)} and plan.ready == ("whole",)


def test_a_failed_branch_fails_the_fanned_step_naming_the_branch():
    steps = {"song": StepRow("song", "succeeded"), "ext": StepRow("ext", "dispatched"),
             "whole": StepRow("whole", "pending")}
    jobs = [job("ext", "failed", fan=0, error="boom"), job("ext", "succeeded", fan=1),
            job("ext", "failed", fan=2, error="bang")]
    plan = plan_advance(FAN, steps, jobs)
    assert plan.finished == {"ext": ("failed", "job ext-0-0 (branch 0) failed: boom; 1 more branch(es) failed")}
    assert plan.skipped == {"whole": "step ext failed: job ext-0-0 (branch 0) failed: boom; 1 more branch(es) failed"}
    assert plan.status == "failed"


def test_current_jobs_are_the_newest_per_branch():
    old = job("ext", "failed", fan=1, n=0)
    kept = job("ext", "succeeded", fan=0, n=0)
    new = job("ext", "running", fan=1, n=5)
    song = job("song", "succeeded")
    assert current_jobs([new, song, old, kept]) == {"ext": [kept, new], "song": [song]}


def test_a_retried_step_counts_only_its_current_jobs():
    steps = {"song": StepRow("song", "succeeded"), "ext": StepRow("ext", "dispatched", generation=1),
             "whole": StepRow("whole", "pending", generation=1)}
    jobs = [job("ext", "succeeded", fan=0, n=0), job("ext", "failed", fan=1, n=0, error="old"),
            job("ext", "succeeded", fan=1, n=9)]
    plan = plan_advance(FAN, steps, jobs)
    assert plan.finished == {"ext": ("succeeded", None)} and plan.ready == ("whole",)


def test_a_dispatched_step_without_jobs_fails_rather_than_hanging():
    plan = plan_advance(SPEC, rows(song="dispatched"), [])
    assert plan.finished == {"song": ("failed", "dispatched, but it has no jobs")}


def test_persona_reference_is_a_dependency():
    spec = parse_spec({"steps": {
        "song": SONG,
        "voice": {"op": "persona", "from": "song", "params": {"name": "V"}},
        "second": {"op": "artist_consistency", "from": "song", "persona": "voice",
                   "params": {"prompt": "x", "tags": "t", "title": "T", "mv": "chirp-auk"}},
    }})
    steps = {"song": StepRow("song", "succeeded"), "voice": StepRow("voice", "dispatched"),
             "second": StepRow("second", "pending")}
    assert plan_advance(spec, steps, [job("voice", "running")]).ready == ()
    plan = plan_advance(spec, steps, [job("voice", "failed", error="no")])
    assert plan.skipped == {"second": "step voice failed: job voice-None-0 failed: no"}

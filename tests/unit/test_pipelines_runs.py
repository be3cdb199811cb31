"""Pipelines on a real SQLite database: create, advance, fan-out, failure, retry, cancel, the sweep, concurrency.

The queue is replaced by a recorder; everything else (producer, states, task updates, SQL) is the real code.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from shared.db import open_session, session_factory
from shared.errors import ValidationError
from shared.models import Job, Pipeline, utcnow
from shared.pipelines import (
    SpecInvalid,
    advance_for_job,
    advance_pipeline,
    advance_stalled_pipelines,
    apply_overrides,
    cancel_pipeline,
    create_pipeline,
    get_pipeline,
    load_spec,
    parse_spec,
    retry_pipeline,
)
from shared.pipelines.dag import current_jobs, job_rows
from shared.pipelines.dispatching import dispatch_step
from shared.pipelines.runs import _load
from tests.unit.pipeline_rows import SONG, count, finish, jobs_of, only_job, pipeline_row, steps_of, submit

EXT = {"op": "extend", "from": "song", "params": {"continue_at": 3, "title": "More", "tags": "pop", "prompt": "x"}}




@pytest.fixture
def enqueued(monkeypatch) -> list[str]:
    sent: list[str] = []
    monkeypatch.setattr("shared.pipelines.runs.enqueue_jobs", lambda settings, ids: sent.extend(ids))
    return sent


def test_create_writes_the_pipeline_its_steps_and_first_jobs_then_enqueues(settings, enqueued):
    pipeline_id = create_pipeline(settings, load_spec("long-song"), name="mine")
    song = only_job(settings, pipeline_id, "song")
    assert enqueued == [song.id]
    assert (song.status, song.operation, song.fan_index) == ("queued", "music", None)
    assert song.params["title"] == "Harbour Lights" and song.params["mv"] == "chirp-auk"
    steps = steps_of(settings, pipeline_id)
    assert steps["song"] == ("dispatched", None, 0)
    assert {name for name, (status, _, _) in steps.items() if status == "pending"} == {
        "extend", "full_song", "full_wav", "full_timing", "voice", "second_song", "second_wav"}
    row = pipeline_row(settings, pipeline_id)
    assert (row.name, row.status) == ("mine", "running") and row.next_check_at > utcnow()
    assert row.spec["vars"]["continue_at"] == 60


def test_an_invalid_spec_writes_and_sends_nothing(settings, enqueued):
    with pytest.raises(SpecInvalid) as caught:
        create_pipeline(settings, {"steps": {"song": SONG, "ext": {"op": "extend", "from": "sng"},
                                             "w": {"op": "wav", "from": "song", "pick": "third"}}})
    assert [(e.where, e.field) for e in caught.value.errors] == [
        ("step ext", "params.continue_at"), ("step ext", "from"), ("step w", "pick")]
    assert (count(settings, Pipeline), count(settings, Job), enqueued) == (0, 0, [])


def test_advance_binds_the_next_step_and_running_it_again_changes_nothing(settings, enqueued):
    pipeline_id = create_pipeline(settings, {"steps": {"song": SONG, "ext": EXT}})
    song = only_job(settings, pipeline_id, "song")
    assert advance_pipeline(settings, pipeline_id) == []  # the song is still queued
    finish(settings, song.id, 6.0, 7.5)
    (ext_id,) = advance_pipeline(settings, pipeline_id)
    assert advance_pipeline(settings, pipeline_id) == []
    assert enqueued == [song.id, ext_id]
    ext = only_job(settings, pipeline_id, "ext")
    task = only_job(settings, pipeline_id, "song").upstream_task_id
    assert ext.params == {"task": "extend", "task_id": task, "continue_clip_id": f"{task}-clip0", "mv": "chirp-auk",
                          "continue_at": 3, "title": "More", "tags": "pop", "prompt": "x"}
    finish(settings, ext_id, 9.0, 9.5)
    advance_for_job(settings, ext_id)
    assert pipeline_row(settings, pipeline_id).status == "succeeded"
    assert pipeline_row(settings, pipeline_id).next_check_at is None


def test_each_fans_out_per_clip_and_a_dependent_follows_one_to_one(settings, enqueued):
    pipeline_id = create_pipeline(settings, {"steps": {
        "song": SONG, "ext": {**EXT, "pick": "each"}, "whole": {"op": "concat", "from": "ext"}}})
    finish(settings, only_job(settings, pipeline_id, "song").id, 6.0, 7.5)
    advance_pipeline(settings, pipeline_id)
    branches = jobs_of(settings, pipeline_id, "ext")
    song_task = only_job(settings, pipeline_id, "song").upstream_task_id
    assert [(j.fan_index, j.params["continue_clip_id"]) for j in branches] == [
        (0, f"{song_task}-clip0"), (1, f"{song_task}-clip1")]
    finish(settings, branches[0].id, 10.0)
    assert advance_pipeline(settings, pipeline_id) == []  # waits for every branch
    finish(settings, branches[1].id, 11.0)
    assert len(advance_pipeline(settings, pipeline_id)) == 2
    branches = jobs_of(settings, pipeline_id, "ext")
    wholes = sorted(jobs_of(settings, pipeline_id, "whole"), key=lambda j: j.fan_index)
    assert [(j.fan_index, j.params["clip_id"]) for j in wholes] == [
        (0, f"{branches[0].upstream_task_id}-clip0"), (1, f"{branches[1].upstream_task_id}-clip0")]


def test_a_bound_value_that_does_not_fit_fails_the_step_before_sending_and_skips_dependents(settings, enqueued):
    spec = {"steps": {"song": SONG, "ext": {**EXT, "params": {**EXT["params"], "continue_at": 30}},
                      "whole": {"op": "concat", "from": "ext"}}}
    pipeline_id = create_pipeline(settings, spec)
    song = only_job(settings, pipeline_id, "song")
    finish(settings, song.id, 6.0, 7.5)
    assert advance_pipeline(settings, pipeline_id) == []
    song = only_job(settings, pipeline_id, "song")
    reason = f"params.continue_at: continue_at 30 is past the end of clip {song.upstream_task_id}-clip0 (6 s)"
    assert steps_of(settings, pipeline_id) == {
        "song": ("succeeded", None, 0), "ext": ("failed", reason, 0),
        "whole": ("skipped", f"step ext failed: {reason}", 0)}
    row = pipeline_row(settings, pipeline_id)
    assert row.status == "failed" and row.error == f"step ext failed: {reason} (1 step(s) skipped)"
    assert jobs_of(settings, pipeline_id, "ext") == [] and enqueued == [song.id]


def test_retry_reruns_only_what_did_not_succeed_and_takes_overrides(settings, enqueued):
    spec = {"steps": {"song": SONG, "ext": {**EXT, "params": {**EXT["params"], "continue_at": 30}},
                      "whole": {"op": "concat", "from": "ext"}}}
    pipeline_id = create_pipeline(settings, spec)
    song = only_job(settings, pipeline_id, "song")
    finish(settings, song.id, 6.0, 7.5)
    advance_pipeline(settings, pipeline_id)

    with pytest.raises(SpecInvalid) as caught:  # the song succeeded: an override may not change it
        retry_pipeline(settings, pipeline_id, overrides={"song.title": "Other", "ext.continue_at": 3})
    assert [(e.where, e.field) for e in caught.value.errors] == [("step song", "params")]
    assert pipeline_row(settings, pipeline_id).status == "failed"

    (ext_id,) = retry_pipeline(settings, pipeline_id, overrides={"ext.continue_at": 3})
    assert enqueued == [song.id, ext_id]
    assert steps_of(settings, pipeline_id) == {
        "song": ("succeeded", None, 0), "ext": ("dispatched", None, 1), "whole": ("pending", None, 1)}
    assert pipeline_row(settings, pipeline_id).status == "running"
    finish(settings, ext_id, 12.0)
    (whole_id,) = advance_pipeline(settings, pipeline_id)
    finish(settings, whole_id, 15.0)
    advance_pipeline(settings, pipeline_id)
    view = get_pipeline(pipeline_id, settings=settings)
    assert view["status"] == "succeeded" and view["error"] is None
    assert [j.id for j in jobs_of(settings, pipeline_id, "song")] == [song.id]  # not paid again
    assert view["cost_usd"] == pytest.approx(0.144 + 0.04)


def test_retry_with_nothing_to_retry_is_refused(settings, enqueued):
    pipeline_id = create_pipeline(settings, {"steps": {"song": SONG}})
    with pytest.raises(ValidationError, match="nothing to retry"):
        retry_pipeline(settings, pipeline_id)


def test_retry_of_a_fanned_step_reruns_only_its_failed_branches(settings, enqueued):
    pipeline_id = create_pipeline(settings, {"steps": {"song": SONG, "ext": {**EXT, "pick": "each"}}})
    finish(settings, only_job(settings, pipeline_id, "song").id, 6.0, 7.5)
    advance_pipeline(settings, pipeline_id)
    first, second = jobs_of(settings, pipeline_id, "ext")
    finish(settings, first.id, 10.0)
    finish(settings, second.id, failed="generation failed: flagged")
    advance_pipeline(settings, pipeline_id)
    assert steps_of(settings, pipeline_id)["ext"][0] == "failed"
    (rerun,) = retry_pipeline(settings, pipeline_id)
    assert only_job(settings, pipeline_id, "song")  # still one song
    new = next(j for j in jobs_of(settings, pipeline_id, "ext") if j.id == rerun)
    assert new.fan_index == second.fan_index and new.params == second.params
    finish(settings, rerun, 11.0)
    advance_pipeline(settings, pipeline_id)
    view = get_pipeline(pipeline_id, settings=settings)
    ext_view = view["steps"][1]
    assert view["status"] == "succeeded"
    assert ext_view["job_ids"] == [first.id, rerun] and ext_view["superseded_job_ids"] == [second.id]
    assert ext_view["generation"] == 1


def test_an_upstream_failure_skips_everything_after_it_and_retry_runs_it_again(settings, enqueued):
    pipeline_id = create_pipeline(settings, {"steps": {"song": SONG, "ext": EXT}})
    song = only_job(settings, pipeline_id, "song")
    finish(settings, song.id, failed="generation failed: the lyrics were flagged")
    advance_for_job(settings, song.id)
    assert steps_of(settings, pipeline_id)["ext"] == (
        "skipped", f"step song failed: job {song.id} failed: generation failed: the lyrics were flagged", 0)
    (again,) = retry_pipeline(settings, pipeline_id)
    assert [j.id for j in jobs_of(settings, pipeline_id, "song")] == [song.id, again]
    assert steps_of(settings, pipeline_id) == {"song": ("dispatched", None, 1), "ext": ("pending", None, 1)}
    assert pipeline_row(settings, pipeline_id).status == "running"


def test_cancel_stops_queued_jobs_and_steps_and_retry_keeps_what_finished_meanwhile(settings, enqueued):
    pipeline_id = create_pipeline(settings, {"steps": {"song": SONG, "b": {**SONG}, "ext": EXT}})
    song, other = only_job(settings, pipeline_id, "song"), only_job(settings, pipeline_id, "b")
    submit(settings, song.id)  # in flight upstream: it will finish on its own
    assert cancel_pipeline(settings, pipeline_id) == [other.id]
    assert cancel_pipeline(settings, pipeline_id) == []
    assert {n: s for n, (s, _, _) in steps_of(settings, pipeline_id).items()} == {
        "song": "canceled", "b": "canceled", "ext": "canceled"}
    assert only_job(settings, pipeline_id, "b").status == "canceled"
    assert pipeline_row(settings, pipeline_id).status == "canceled"
    finish(settings, song.id, 6.0)
    assert advance_pipeline(settings, pipeline_id) == []  # a canceled pipeline does not move

    new_ids = retry_pipeline(settings, pipeline_id)
    assert [j.id for j in jobs_of(settings, pipeline_id, "song")] == [song.id]  # finished meanwhile: kept
    rerun_b = jobs_of(settings, pipeline_id, "b")[-1]
    assert sorted(new_ids) == sorted([rerun_b.id, only_job(settings, pipeline_id, "ext").id])
    assert rerun_b.id != other.id


def test_two_threads_advancing_at_once_create_each_steps_jobs_once(any_db, enqueued):
    settings = any_db
    spec = {"steps": {"song": SONG, "ext": {**EXT, "pick": "each"}, "w": {"op": "wav", "from": "song"},
                      "voice": {"op": "persona", "from": "song", "params": {"name": "V"}}}}
    for _ in range(3):
        pipeline_id = create_pipeline(settings, spec)
        finish(settings, only_job(settings, pipeline_id, "song").id, 6.0, 7.5)
        barrier = threading.Barrier(4)
        results: list[list[str]] = []

        def advance(pipeline_id: str = pipeline_id, barrier: threading.Barrier = barrier,
                    results: list[list[str]] = results) -> None:
            barrier.wait()
            results.append(advance_pipeline(settings, pipeline_id))

        threads = [threading.Thread(target=advance) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        created = [job_id for r in results for job_id in r]
        jobs = [j for j in jobs_of(settings, pipeline_id) if j.step_name != "song"]
        assert sorted(created) == sorted(j.id for j in jobs)
        assert sorted((j.step_name, j.fan_index) for j in jobs) == [("ext", 0), ("ext", 1), ("voice", None),
                                                                    ("w", None)]


def test_the_step_compare_and_set_stops_a_stale_advancer_even_without_the_lock(any_db, enqueued):
    settings = any_db
    pipeline_id = create_pipeline(settings, {"steps": {"song": SONG, "ext": EXT}})
    finish(settings, only_job(settings, pipeline_id, "song").id, 6.0)
    spec = parse_spec(pipeline_row(settings, pipeline_id).spec)
    Session = session_factory(settings)
    created = []
    with Session() as first, Session() as second:
        views = []
        for session in (first, second):  # both read the same rows before either writes
            rows, jobs = _load(session, pipeline_id)
            by_id = {j.id: j for j in jobs}
            views.append((rows, {s: [by_id[r.id] for r in rs] for s, rs in current_jobs(job_rows(jobs)).items()}))
        pipeline = first.get(Pipeline, pipeline_id)
        for session, (rows, step_jobs) in zip((first, second), views, strict=True):
            created.append(dispatch_step(session, settings, pipeline, spec.steps["ext"], rows["ext"], step_jobs,
                                         utcnow()))
            session.commit()
    assert [len(ids) for ids in created] == [1, 0]
    assert len(jobs_of(settings, pipeline_id, "ext")) == 1


def test_the_sweep_advances_pipelines_whose_follow_up_was_lost(settings, enqueued):
    due = create_pipeline(settings, {"steps": {"song": SONG, "ext": EXT}})
    not_due = create_pipeline(settings, {"steps": {"song": SONG, "ext": EXT}})
    for pipeline_id in (due, not_due):
        finish(settings, only_job(settings, pipeline_id, "song").id, 6.0)  # ...and no follow-up ran
    with open_session(settings) as s:
        s.execute(update(Pipeline).where(Pipeline.id == due).values(next_check_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    assert advance_stalled_pipelines(settings) == 1
    assert len(jobs_of(settings, due, "ext")) == 1 and jobs_of(settings, not_due, "ext") == []
    assert pipeline_row(settings, due).next_check_at > utcnow()
    assert advance_stalled_pipelines(settings) == 0


def test_advance_for_a_job_without_a_pipeline_does_nothing(settings, enqueued):
    with open_session(settings) as s:
        job = Job(operation="music", params={}, status="succeeded")
        s.add(job)
        s.commit()
    advance_for_job(settings, job.id)
    advance_for_job(settings, "no-such-job")
    assert enqueued == []


def test_generate_from_lyrics(settings, enqueued):
    pipeline_id = create_pipeline(settings, {"steps": {
        "words": {"op": "lyrics", "params": {"prompt": "the sea"}},
        "sung": {"op": "generate", "from": "words", "params": {"tags": "folk", "mv": "chirp-v4"}}}})
    finish(settings, only_job(settings, pipeline_id, "words").id)
    advance_pipeline(settings, pipeline_id)
    assert only_job(settings, pipeline_id, "sung").params == {
        "prompt": "[Verse] waves", "title": "Sea", "tags": "folk", "mv": "chirp-v4"}


def test_long_song_flows_through_every_step_with_bound_inputs(settings, enqueued):
    pipeline_id = create_pipeline(settings, apply_overrides(load_spec("long-song"), {"continue_at": 50}))
    song = only_job(settings, pipeline_id, "song")
    finish(settings, song.id, 70.0, 71.5)
    advance_pipeline(settings, pipeline_id)
    song = only_job(settings, pipeline_id, "song")
    first_clip = song.clips[0].clip_id
    extend, voice = only_job(settings, pipeline_id, "extend"), only_job(settings, pipeline_id, "voice")
    assert (extend.params["continue_clip_id"], extend.params["continue_at"]) == (first_clip, 50)
    assert voice.params["root_clip_id"] == first_clip and voice.params["clips"] == [first_clip]
    finish(settings, extend.id, 40.0, 41.0)
    finish(settings, voice.id, result={"persona_id": "persona-1"})
    advance_pipeline(settings, pipeline_id)
    full, second = only_job(settings, pipeline_id, "full_song"), only_job(settings, pipeline_id, "second_song")
    assert full.params == {"clip_id": only_job(settings, pipeline_id, "extend").clips[0].clip_id, "is_infill": False}
    assert (second.params["persona_id"], second.params["artist_clip_id"]) == ("persona-1", first_clip)
    finish(settings, full.id, 110.0)
    finish(settings, second.id, 60.0, 61.0)
    advance_pipeline(settings, pipeline_id)
    full_clip = only_job(settings, pipeline_id, "full_song").clips[0].clip_id
    for step in ("full_wav", "full_timing"):
        assert only_job(settings, pipeline_id, step).params == {"clip_id": full_clip}
    for step in ("full_wav", "full_timing", "second_wav"):
        finish(settings, only_job(settings, pipeline_id, step).id, result={"export": {"url": "https://x/y.wav"}})
    advance_pipeline(settings, pipeline_id)
    view = get_pipeline(pipeline_id, settings=settings)
    assert view["status"] == "succeeded"
    assert [s["status"] for s in view["steps"]] == ["succeeded"] * 8
    assert view["steps"][0]["clips"][0]["duration"] == 70.0
    assert view["steps"][3]["jobs"][0]["result"] == {"export": {"url": "https://x/y.wav"}}
    assert view["cost_usd"] == pytest.approx(0.144 + 0.04 + 0.144)


def test_a_stored_spec_that_no_longer_validates_fails_the_pipeline_instead_of_every_sweep(settings, enqueued):
    pipeline_id = create_pipeline(settings, {"steps": {"song": SONG, "ext": EXT}})
    with open_session(settings) as s:  # as if a newer validator refused what an older one accepted
        row = s.get(Pipeline, pipeline_id)
        row.spec = {"steps": {**row.spec["steps"], "ext": {**EXT, "params": {"continue_at": 3, "speed": 2}}}}
        s.commit()
    assert advance_pipeline(settings, pipeline_id) == []
    row = pipeline_row(settings, pipeline_id)
    assert row.status == "failed" and "no longer validates" in row.error and "params.speed" in row.error
    assert advance_pipeline(settings, pipeline_id) == []

"""Bindings: a step's params from its sources' output (clip picks, fan-out, persona, lyrics); explicit wins."""

from __future__ import annotations

import pytest

from shared.pipelines import BindingFailed, bind_step, parse_spec
from shared.pipelines.bindings import BoundJob, ClipOutput, JobOutput

SONG = {"op": "generate", "params": {"prompt": "[Verse] la", "tags": "pop", "title": "T", "mv": "chirp-auk"}}
ARTIST = {"prompt": "x", "tags": "t", "title": "T", "mv": "chirp-auk"}


def step(name: str, **steps: dict):
    spec = parse_spec({"steps": {"song": SONG, "words": {"op": "lyrics", "params": {"prompt": "sea"}},
                                 "voice": {"op": "persona", "from": "song", "params": {"name": "V"}}, **steps}})
    return spec.steps[name]


def song_job(*durations: float | None, fan: int | None = None, task: str = "task-1",
             mv: str = "chirp-auk") -> JobOutput:
    clips = tuple(ClipOutput(f"{task}-clip{i}", d, i) for i, d in enumerate(durations))
    return JobOutput(f"job-{task}", fan, task, clips, {}, {"mv": mv})


def test_extend_binds_task_clip_and_mode_and_inherits_the_model():
    ext = step("ext", ext={"op": "extend", "from": "song", "params": {"continue_at": 5, "title": "More"}})
    assert bind_step(ext, [song_job(30.0, 31.5)]) == [BoundJob(None, {
        "task": "extend", "task_id": "task-1", "continue_clip_id": "task-1-clip0", "mv": "chirp-auk",
        "continue_at": 5, "title": "More"})]


def test_explicit_params_win_over_bound_ones():
    ext = step("ext", ext={"op": "extend", "from": "song",
                           "params": {"continue_at": 5, "mv": "chirp-v4", "continue_clip_id": "mine"}})
    (bound,) = bind_step(ext, [song_job(30.0)])
    assert bound.params["mv"] == "chirp-v4" and bound.params["continue_clip_id"] == "mine"
    assert bound.params["task_id"] == "task-1"


@pytest.mark.parametrize(("pick", "expected"),
                         [(None, "task-1-clip0"), (1, "task-1-clip1"), ("longest", "task-1-clip1")])
def test_clip_picks(pick, expected):
    wav = step("w", w={"op": "wav", "from": "song", **({"pick": pick} if pick is not None else {})})
    assert bind_step(wav, [song_job(30.0, 31.5)]) == [BoundJob(None, {"clip_id": expected})]


def test_longest_ignores_unknown_durations_and_prefers_the_first_on_a_tie():
    wav = step("w", w={"op": "wav", "from": "song", "pick": "longest"})
    assert bind_step(wav, [song_job(None, 20.0, 20.0)])[0].params["clip_id"] == "task-1-clip1"


def test_pick_beyond_the_clips_fails_the_step_naming_pick():
    wav = step("w", w={"op": "wav", "from": "song", "pick": 2})
    with pytest.raises(BindingFailed) as caught:
        bind_step(wav, [song_job(30.0, 31.5)])
    assert (caught.value.where, caught.value.field) == ("step w", "pick")
    assert caught.value.message == "pick 2, but step song produced 2 clip(s)"
    with pytest.raises(BindingFailed, match="produced no clips"):
        bind_step(wav, [song_job()])


def test_continue_at_past_the_clips_end_fails_before_sending():
    ext = step("ext", ext={"op": "extend", "from": "song", "params": {"continue_at": 45}})
    with pytest.raises(BindingFailed) as caught:
        bind_step(ext, [song_job(30.0, 31.5)])
    assert caught.value.field == "params.continue_at"
    assert caught.value.message == "continue_at 45 is past the end of clip task-1-clip0 (30 s)"
    at_end = step("ext", ext={"op": "extend", "from": "song", "params": {"continue_at": 30.005}})
    assert bind_step(at_end, [song_job(30.0)])[0].params["continue_at"] == 30.005  # within the rounding


def test_each_fans_out_one_job_per_clip_in_order():
    ext = step("ext", ext={"op": "extend", "from": "song", "pick": "each", "params": {"continue_at": 5}})
    bound = bind_step(ext, [song_job(30.0, 31.5)])
    assert [(b.fan_index, b.params["continue_clip_id"]) for b in bound] == [(0, "task-1-clip0"), (1, "task-1-clip1")]


def test_a_step_from_a_fanned_step_fans_out_one_to_one():
    whole = step("whole", ext={"op": "extend", "from": "song", "pick": "each", "params": {"continue_at": 5}},
                 whole={"op": "concat", "from": "ext"})
    branches = [song_job(40.0, 41.0, fan=1, task="t-b"), song_job(50.0, 51.0, fan=0, task="t-a")]
    assert bind_step(whole, branches) == [
        BoundJob(0, {"clip_id": "t-a-clip0", "is_infill": False}),
        BoundJob(1, {"clip_id": "t-b-clip0", "is_infill": False}),
    ]


def test_concat_defaults_is_infill_false_unless_given():
    whole = step("whole", whole={"op": "concat", "from": "song", "params": {"is_infill": True}})
    assert bind_step(whole, [song_job(30.0)])[0].params == {"clip_id": "task-1-clip0", "is_infill": True}


def test_persona_binds_root_clip_and_clip_list():
    voice = step("voice")
    assert bind_step(voice, [song_job(30.0)])[0].params == {
        "root_clip_id": "task-1-clip0", "clips": ["task-1-clip0"], "name": "V", "description": "",
        "is_public": False}


def test_artist_consistency_takes_the_persona_id_from_the_persona_job():
    second = step("second", second={"op": "artist_consistency", "from": "song", "persona": "voice",
                                    "params": ARTIST})
    persona = JobOutput("job-p", None, None, (), {"persona_id": "persona-9"})
    (bound,) = bind_step(second, [song_job(30.0)], [persona])
    assert bound.params == {**ARTIST, "task": "artist_consistency", "artist_clip_id": "task-1-clip0",
                            "persona_id": "persona-9"}
    with pytest.raises(BindingFailed) as caught:
        bind_step(second, [song_job(30.0)], [JobOutput("job-p", None, None, (), {})])
    assert caught.value.field == "persona" and "produced no persona_id" in caught.value.message


def test_generate_from_lyrics_takes_the_text_and_title():
    sung = step("sung", sung={"op": "generate", "from": "words", "params": {"tags": "folk", "mv": "chirp-v4"}})
    words = JobOutput("job-l", None, "lt", (), {"lyrics": {"title": "Sea", "text": "[Verse] waves"}})
    assert bind_step(sung, [words])[0].params == {"prompt": "[Verse] waves", "title": "Sea", "tags": "folk",
                                                 "mv": "chirp-v4"}
    with pytest.raises(BindingFailed, match="produced no lyrics prompt"):
        bind_step(sung, [JobOutput("job-l", None, "lt", (), {})])


def test_exports_and_repainting_bind_their_clip_field():
    for op in ("wav", "midi", "mp4", "timing", "separate"):
        assert bind_step(step("x", x={"op": op, "from": "song"}), [song_job(9.0)])[0].params["clip_id"] == \
            "task-1-clip0"
    under = step("u", u={"op": "underpainting", "from": "song", "params": {
        "underpainting_start_s": 0, "underpainting_end_s": 20, "tags": "t", "title": "T"}})
    assert bind_step(under, [song_job(30.0)])[0].params["underpainting_clip_id"] == "task-1-clip0"
    with pytest.raises(BindingFailed, match="underpainting_end_s 20 is past the end"):
        bind_step(under, [song_job(10.0)])


def test_a_step_without_from_uses_its_params():
    assert bind_step(step("song"), None) == [BoundJob(None, dict(SONG["params"]))]

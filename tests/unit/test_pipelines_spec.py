"""Pipeline specs: the format, vars and overrides, and validation that reports every error with its step and field."""

from __future__ import annotations

import json

import pytest

from shared.errors import ValidationError
from shared.pipelines import SpecInvalid, apply_overrides, example_names, load_spec, parse_spec
from shared.pipelines.spec.files import parse_spec_text

SONG = {"op": "generate", "params": {"prompt": "[Verse] la", "tags": "pop", "title": "T", "mv": "chirp-auk"}}


def spec_of(**steps: dict) -> dict:
    return {"steps": {"song": SONG, **steps}}


def errors_of(document) -> list[tuple[str | None, str | None, str]]:
    with pytest.raises(SpecInvalid) as caught:
        parse_spec(document)
    return [(e.where, e.field, e.message) for e in caught.value.errors]


def where_fields(document) -> list[tuple[str | None, str | None]]:
    return [(where, field) for where, field, _ in errors_of(document)]


def test_long_song_example_is_valid_and_ordered():
    assert "long-song" in example_names()
    spec = parse_spec(load_spec("long-song"))
    assert spec.order == ("song", "extend", "full_song", "full_wav", "full_timing", "voice", "second_song",
                          "second_wav")
    extend = spec.steps["extend"]
    assert (extend.operation, extend.source, extend.pick) == ("music", "song", 0)
    assert extend.params["continue_at"] == 60  # a whole-value ${var} keeps the var's type
    second = spec.steps["second_song"]
    assert second.depends_on == ("song", "voice") and second.kind.name == "artist_consistency"
    assert spec.dependents("full_song") == ["full_wav", "full_timing"]


def test_overrides_set_a_var_or_one_steps_param_without_touching_the_original():
    document = load_spec("long-song")
    by_var = parse_spec(apply_overrides(document, {"continue_at": 30}))
    by_param = parse_spec(apply_overrides(document, {"extend.continue_at": 25.5, "voice.name": "Other"}))
    assert by_var.steps["extend"].params["continue_at"] == 30
    assert by_param.steps["extend"].params["continue_at"] == 25.5
    assert by_param.steps["voice"].params["name"] == "Other"
    assert document["vars"]["continue_at"] == 60


def test_bad_overrides_are_all_reported():
    with pytest.raises(SpecInvalid) as caught:
        apply_overrides(load_spec("long-song"), {"contnue_at": 3, "nosuch.param": 1, "extend.": 2})
    assert [(e.where, e.field) for e in caught.value.errors] == [
        ("--set contnue_at", "contnue_at"), ("--set nosuch.param", "nosuch.param"), ("--set extend.", "extend."),
    ]


def test_a_file_with_several_errors_reports_them_all_each_naming_step_and_field():
    text = """
name: broken
vars: {at: 3}
steps:
  song:
    op: generate
    params: {prompt: "[Verse] la", tags: pop, title: T, colour: blue}
  extend:
    op: extend
    from: song
    pick: shortest
    params: {continue_at: "${at}"}
  stems:
    op: separat
    from: song
  art:
    op: wav
    from: ghost
  voice:
    op: persona
    from: song
    params: {description: x}
"""
    assert where_fields(parse_spec_text(text)) == [
        ("step song", "params.colour"),
        ("step extend", "pick"),
        ("step stems", "op"),
        ("step art", "from"),
    ]  # a persona needs only its root clip (bound from `song`): the voice step is fine


def test_unknown_params_are_all_listed_then_the_first_other_problem():
    found = errors_of(spec_of(ext={"op": "extend", "from": "song", "params": {"speed": 2, "colour": "x"}}))
    assert [(w, f) for w, f, _ in found] == [
        ("step ext", "params.speed"), ("step ext", "params.colour"), ("step ext", "params.continue_at"),
    ]
    assert "unknown param 'speed' for op extend" in found[0][2] and "continue_at" in found[0][2]
    assert found[2][2] == "continue_at is required for music"


@pytest.mark.parametrize("op", ["separat", "generate_song", "", 3])
def test_unknown_op(op):
    ((where, field, message),) = errors_of(spec_of(x={"op": op}))
    listed = message.partition("one of ")[2].split(", ")
    assert (where, field) == ("step x", "op") and {"generate", "music", "extend"} <= set(listed)


def test_missing_op_and_unknown_step_keys():
    assert where_fields(spec_of(x={"from": "song", "params": {}, "input": "song"})) == [
        ("step x", "input"), ("step x", "op"),
    ]


def test_cycle_is_reported_once_naming_the_loop():
    found = errors_of(spec_of(
        a={"op": "extend", "from": "c", "params": {"continue_at": 1}},
        b={"op": "extend", "from": "a", "params": {"continue_at": 1}},
        c={"op": "extend", "from": "b", "params": {"continue_at": 1}},
    ))
    assert found == [("step a", "from", "cycle: a -> c -> b -> a")]


def test_self_reference_is_a_cycle():
    assert errors_of(spec_of(w={"op": "wav", "from": "w"})) == [("step w", "from", "cycle: w -> w")]


def test_dangling_from_and_persona():
    found = errors_of(spec_of(
        ext={"op": "extend", "from": "sng", "params": {"continue_at": 1}},
        second={"op": "artist_consistency", "from": "song", "persona": "voice",
                "params": {"prompt": "x", "tags": "t", "title": "T", "mv": "chirp-auk"}},
    ))
    assert [(w, f) for w, f, _ in found] == [("step ext", "from"), ("step second", "persona")]
    assert "no step named 'sng'" in found[0][2]


@pytest.mark.parametrize("pick", ["shortest", -1, 1.5, True, "first"])
def test_bad_pick(pick):
    found = errors_of(spec_of(w={"op": "wav", "from": "song", "pick": pick}))
    assert [(w, f) for w, f, _ in found] == [("step w", "pick")]


@pytest.mark.parametrize("pick", [0, 1, 2, "1", "longest", "each"])
def test_good_picks(pick):
    assert parse_spec(spec_of(w={"op": "wav", "from": "song", "pick": pick})).steps["w"].pick == (
        int(pick) if str(pick).isdigit() else pick)


def test_pick_without_from_and_pick_of_lyrics():
    found = where_fields({"steps": {
        "words": {"op": "lyrics", "params": {"prompt": "sea"}},
        "w": {"op": "wav", "pick": 0, "params": {"clip_id": "c"}},
        "sung": {"op": "generate", "from": "words", "pick": 1, "params": {"tags": "pop"}},
    }})
    assert found == [("step w", "pick"), ("step sung", "pick")]


def test_inputs_must_fit_what_the_source_yields():
    found = errors_of({"steps": {
        "words": {"op": "lyrics", "params": {"prompt": "sea"}},
        "w": {"op": "wav", "from": "words"},
        "again": {"op": "lyrics", "from": "words", "params": {"prompt": "x"}},
    }})
    assert [(w, f) for w, f, _ in found] == [("step w", "from"), ("step again", "from")]
    assert "takes clips but step words (lyrics) yields lyrics" in found[0][2]


def test_missing_required_field_is_named():
    assert parse_spec(spec_of(voice={"op": "persona", "from": "song"}))  # a persona needs only its root clip
    assert where_fields(spec_of(voice={"op": "persona"})) == [("step voice", "params.root_clip_id")]
    # Without `from`, the fields a binding would fill are required like any other.
    assert where_fields(spec_of(w={"op": "wav"})) == [("step w", "params.clip_id")]


def test_bound_fields_need_not_be_written():
    spec = parse_spec(spec_of(
        ext={"op": "extend", "from": "song", "params": {"continue_at": 3}},
        whole={"op": "concat", "from": "ext"},
        voice={"op": "persona", "from": "song", "params": {"name": "V"}},
        second={"op": "artist_consistency", "from": "song", "persona": "voice",
                "params": {"prompt": "x", "tags": "t", "title": "T", "mv": "chirp-auk"}},
    ))
    assert spec.order == ("song", "ext", "whole", "voice", "second")


def test_bad_values_are_caught_by_the_producer_validator():
    found = errors_of(spec_of(ext={"op": "extend", "from": "song", "params": {"continue_at": -1, "mv": "chirp-x"}}))
    assert [(w, f) for w, f, _ in found] == [("step ext", "params.continue_at")]  # an unknown mv is only a warning


def test_a_music_mode_op_fixes_its_task():
    found = errors_of(spec_of(ext={"op": "extend", "from": "song", "params": {"continue_at": 1, "task": "infill"}}))
    assert [(w, f) for w, f, _ in found] == [("step ext", "params.task")]
    # op: music with a task is that mode, bindings included.
    spec = parse_spec(spec_of(ext={"op": "music", "from": "song", "params": {"task": "extend", "continue_at": 1}}))
    assert spec.steps["ext"].kind.name == "extend"


def test_nested_fan_out_is_refused_and_one_to_one_is_allowed():
    found = where_fields(spec_of(
        ext={"op": "extend", "from": "song", "pick": "each", "params": {"continue_at": 1}},
        again={"op": "extend", "from": "ext", "pick": "each", "params": {"continue_at": 1}},
    ))
    assert found == [("step again", "pick")]
    spec = parse_spec(spec_of(
        ext={"op": "extend", "from": "song", "pick": "each", "params": {"continue_at": 1}},
        whole={"op": "concat", "from": "ext"},
        w={"op": "wav", "from": "whole"},
    ))
    assert [spec.is_fanned(n) for n in spec.order] == [False, True, True, True]
    assert spec.fan_roots["w"] == "ext"


def test_persona_reference_rules():
    artist = {"prompt": "x", "tags": "t", "title": "T", "mv": "chirp-auk"}
    found = errors_of({"steps": {
        "song": {**SONG, "params": {**SONG["params"], "mv": "chirp-crow"}},
        "voice": {"op": "persona", "from": "song", "params": {"name": "V"}},
        "second": {"op": "artist_consistency", "from": "song", "persona": "voice", "params": artist},
        "third": {"op": "artist_consistency", "from": "song", "persona": "song", "params": artist},
        "w": {"op": "wav", "from": "song", "persona": "voice"},
    }})
    assert [(w, f) for w, f, _ in found] == [("step second", "persona"), ("step third", "persona"),
                                             ("step w", "persona")]
    assert "needs a persona from a chirp-auk song" in found[0][2]


def test_vars_are_typed_when_whole_and_text_inside_strings():
    spec = parse_spec({"vars": {"at": 12.5, "name": "Harbour", "inst": True}, "steps": {
        "song": {"op": "generate", "params": {"prompt": "[Verse] ${name} ${inst}", "tags": "pop", "title": "${name}",
                                              "make_instrumental": "${inst}"}},
        "ext": {"op": "extend", "from": "song", "params": {"continue_at": "${at}"}},
    }})
    assert spec.steps["song"].params == {"prompt": "[Verse] Harbour true", "tags": "pop", "title": "Harbour",
                                         "make_instrumental": True}
    assert spec.steps["ext"].params == {"continue_at": 12.5}


def test_top_level_shape_errors():
    assert where_fields({"stages": {}, "vars": [1]}) == [("spec", "stages"), ("spec", "vars"), ("spec", "steps")]
    assert where_fields({"steps": [{"song": SONG}]}) == [("spec", "steps")]
    assert where_fields([]) == [("spec", None)]
    assert where_fields({"steps": {"bad name!": SONG}}) == [("step bad name!", "name")]


def test_duplicate_keys_are_refused_in_yaml_and_json():
    with pytest.raises(ValidationError, match="duplicate key 'song'"):
        parse_spec_text("steps:\n  song: {op: lyrics}\n  song: {op: wav}\n")
    with pytest.raises(ValidationError, match="duplicate key 'song'"):
        parse_spec_text('{"steps": {"song": {}, "song": {}}}', json_only=True)


def test_load_spec_reads_json_files_and_refuses_unknown_names(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(spec_of()))
    assert parse_spec(load_spec(str(path))).order == ("song",)
    with pytest.raises(ValidationError, match="no bundled example of that name"):
        load_spec("short-song")


def test_spec_invalid_is_a_validation_error_with_json_errors():
    with pytest.raises(ValidationError) as caught:
        parse_spec(spec_of(w={"op": "wav", "from": "nope"}))
    assert isinstance(caught.value, SpecInvalid)
    assert caught.value.as_json() == [
        {"where": "step w", "field": "from", "message": "no step named 'nope' (steps: song, w)"}]
    assert "pipeline spec has 1 error(s)" in str(caught.value)

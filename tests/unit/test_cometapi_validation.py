"""validate_request: the exact payload for good input, BadRequest naming the field for bad input."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.cometapi import MODELS, MUSIC_MODES, OPERATIONS, TAU_MODELS, music_mode, normalize_mv, validate_request
from shared.cometapi.operations import body_for
from shared.cometapi.validation import request_warnings
from shared.errors import BadRequest

LYRICS = "[Verse]\nWalking down the streets\nBeneath the city lights"

# One good request per music mode, shaped like the CometAPI examples.
GOOD_MUSIC: dict[str, dict[str, Any]] = {
    "inspiration": {"gpt_description_prompt": "cat", "mv": "chirp-auk"},
    "custom": {"prompt": LYRICS, "tags": "emotional punk", "title": "City Lights", "mv": "chirp-v4",
               "make_instrumental": False},
    "instrumental": {"prompt": "", "tags": "heavy metal", "title": "Beijing", "mv": "chirp-auk",
                     "continue_clip_id": None, "continue_at": None, "infill_start_s": None, "infill_end_s": None},
    "extend": {"prompt": LYRICS, "tags": "metal", "negative_tags": "dance", "mv": "chirp-v4", "title": "City Lights",
               "task_id": "736a", "continue_clip_id": "736a_1", "continue_at": 80, "task": "extend"},
    "upload_extend": {"prompt": "lyrics", "tags": "", "negative_tags": "", "mv": "chirp-v4-upload", "title": "title",
                      "continue_clip_id": "ca94", "continue_at": 10, "task": "upload_extend"},
    "artist_consistency": {"prompt": LYRICS, "generation_type": "TEXT", "tags": "electronic, pop",
                           "negative_tags": "", "mv": "chirp-v4-tau", "title": "husband", "task_id": "f8fa",
                           "task": "artist_consistency", "persona_id": "05bf", "artist_clip_id": "bd9c"},
    "underpainting": {"mv": "chirp-bluejay", "tags": "Pop rap", "title": "Hi Instrumental",
                      "underpainting_clip_id": "3c33", "underpainting_start_s": 0, "underpainting_end_s": 37.9,
                      "task": "underpainting", "prompt": "", "override_fields": ["prompt", "tags"]},
    "overpainting": {"mv": "chirp-bluejay", "tags": "smooth R&B", "title": "Hi vocal",
                     "overpainting_clip_id": "3c33", "overpainting_start_s": 0, "overpainting_end_s": 37.9,
                     "task": "overpainting", "prompt": "yourself ", "override_fields": ["prompt", "tags"]},
    "infill": {"prompt": LYRICS, "tags": "rock, punk", "mv": "chirp-v3-5-tau", "title": "t",
               "continue_clip_id": "abcd", "infill_start_s": 50, "infill_end_s": 64.8, "task": "infill"},
    "gen_stem": {"task": "gen_stem", "generation_type": "TEXT", "title": "Security String", "mv": "chirp-auk",
                 "prompt": "", "make_instrumental": True, "task_id": "482e", "continue_clip_id": "c329",
                 "continued_aligned_prompt": None, "continue_at": None, "stem_type_id": 91,
                 "stem_type_group_name": "Two", "stem_task": "two"},
}


def refused(operation: str, params: Any) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        validate_request(operation, params)
    return caught.value


@pytest.mark.parametrize("mode", list(GOOD_MUSIC))
def test_every_music_mode_passes_and_is_recognised(mode: str) -> None:
    params = GOOD_MUSIC[mode]
    original = copy.deepcopy(params)
    payload = validate_request("music", params)
    assert music_mode(params) == mode
    assert params == original, "the input must not be changed"
    assert payload == {key: value for key, value in params.items() if value is not None}


def test_every_mode_has_a_good_example() -> None:
    assert set(GOOD_MUSIC) == set(MUSIC_MODES)


def test_make_instrumental_turns_custom_into_instrumental_but_leaves_inspiration() -> None:
    assert music_mode({"tags": "jazz", "title": "t", "make_instrumental": True}) == "instrumental"
    assert music_mode({"gpt_description_prompt": "x", "prompt": "", "make_instrumental": True}) == "inspiration"
    assert validate_request("music", {"tags": "jazz", "title": "t", "make_instrumental": True})["tags"] == "jazz"


def test_infill_is_recognised_from_its_fields_and_gets_its_task() -> None:
    params = {"continue_clip_id": "c", "infill_start_s": 1, "infill_end_s": 2}
    assert music_mode(params) == "infill"
    assert validate_request("music", params)["task"] == "infill"


def test_painting_gets_the_documented_override_fields() -> None:
    under = {k: v for k, v in GOOD_MUSIC["underpainting"].items() if k not in ("prompt", "override_fields")}
    assert validate_request("music", under)["override_fields"] == ["prompt", "tags"]
    assert validate_request("music", under)["prompt"] == ""


@pytest.mark.parametrize(("given", "known"), [
    ("chirp-v3.5", "chirp-v3-5"), ("chirp-v3.0", "chirp-v3-0"), ("chirp-v3.5-tau", "chirp-v3-5-tau"),
    (" Chirp-V4 ", "chirp-v4"), ("chirp-crow", "chirp-crow"),
])
def test_dotted_mv_is_known_and_sent_as_written(given: str, known: str) -> None:
    """The seed table's dotted spellings are the known models, and are sent as the user wrote them."""
    assert normalize_mv(given) == known
    params = {"gpt_description_prompt": "x", "mv": given}
    assert validate_request("music", params)["mv"] == given
    assert request_warnings("music", params) == []


def test_aliases_map_a_spelling_only_when_configured() -> None:
    payload = validate_request("music", {"gpt_description_prompt": "x", "mv": "chirp-v3.5"})
    assert body_for("music", payload)["mv"] == "chirp-v3.5"
    assert body_for("music", payload, mv_aliases={"chirp-v3.5": "chirp-v3-5"})["mv"] == "chirp-v3-5"


@pytest.mark.parametrize("mv", ["chirp-v5-5", "chirp-v9", "suno-v6-preview"])
def test_an_unknown_mv_is_sent_as_given_with_a_warning(mv: str) -> None:
    params = {**GOOD_MUSIC["custom"], "mv": mv}
    assert validate_request("music", params)["mv"] == mv
    (warning,) = request_warnings("music", params)
    assert f"unknown mv {mv!r}: sent as given" in warning


@pytest.mark.parametrize("mv", ["chirp-auk-upload", "chirp-v4-upload"])
def test_the_scenario_guides_upload_models_are_accepted_for_upload_extend(mv: str) -> None:
    params = {**GOOD_MUSIC["upload_extend"], "mv": mv}
    assert validate_request("music", params)["mv"] == mv and request_warnings("music", params) == []


@pytest.mark.parametrize("continue_at", [80, 80.5, "80", " 12.5 "])
def test_continue_at_is_a_number_or_a_string_and_sent_as_given(continue_at: Any) -> None:
    assert validate_request("music", {**GOOD_MUSIC["extend"], "continue_at": continue_at})["continue_at"] == continue_at


def test_inspiration_passes_undocumented_fields_through_with_a_warning() -> None:
    params = {"gpt_description_prompt": "a cat", "mv": "chirp-auk", "tags": "jazz", "title": "Cat", "prompt": LYRICS,
              "style_weight": 0.5}
    payload = validate_request("music", params)
    assert payload == params
    (warning,) = request_warnings("music", params)
    assert "style_weight" in warning and "tags" in warning and "title" in warning and "sent as given" in warning
    assert refused("music", {**params, "tags": 5}).field == "tags"  # a documented field keeps its kind


def test_the_model_lists() -> None:
    assert len(MODELS) == 8 and set(TAU_MODELS) <= set(MODELS)


MUSIC_ERRORS: list[tuple[str, dict[str, Any], str]] = [
    ("persona with an unknown mv", {**GOOD_MUSIC["artist_consistency"], "mv": "chirp-v9"}, "mv"),
    ("upload_extend with a known non-upload model", {**GOOD_MUSIC["upload_extend"], "mv": "chirp-v4"}, "mv"),
    ("mv not a string", {**GOOD_MUSIC["custom"], "mv": 4}, "mv"),
    ("persona needs tau", {**GOOD_MUSIC["artist_consistency"], "mv": "chirp-v4"}, "mv"),
    ("persona needs mv", {k: v for k, v in GOOD_MUSIC["artist_consistency"].items() if k != "mv"}, "mv"),
    ("persona needs persona_id", {**GOOD_MUSIC["artist_consistency"], "persona_id": None}, "persona_id"),
    ("under end == start", {**GOOD_MUSIC["underpainting"], "underpainting_end_s": 0}, "underpainting_end_s"),
    ("under start < 0", {**GOOD_MUSIC["underpainting"], "underpainting_start_s": -1}, "underpainting_start_s"),
    ("over end < start", {**GOOD_MUSIC["overpainting"], "overpainting_start_s": 40}, "overpainting_end_s"),
    ("over needs lyrics", {**GOOD_MUSIC["overpainting"], "prompt": " "}, "prompt"),
    ("infill end <= start", {**GOOD_MUSIC["infill"], "infill_end_s": 50}, "infill_end_s"),
    ("continue_at < 0", {**GOOD_MUSIC["extend"], "continue_at": -0.5}, "continue_at"),
    ("continue_at a word", {**GOOD_MUSIC["extend"], "continue_at": "eighty"}, "continue_at"),
    ("continue_at a negative string", {**GOOD_MUSIC["extend"], "continue_at": "-3"}, "continue_at"),
    ("continue_at a bool", {**GOOD_MUSIC["extend"], "continue_at": True}, "continue_at"),
    ("continue_at NaN", {**GOOD_MUSIC["extend"], "continue_at": float("nan")}, "continue_at"),
    ("extend needs clip", {**GOOD_MUSIC["extend"], "continue_clip_id": None}, "continue_clip_id"),
    ("make_instrumental a string", {**GOOD_MUSIC["custom"], "make_instrumental": "yes"}, "make_instrumental"),
    ("custom needs title", {k: v for k, v in GOOD_MUSIC["custom"].items() if k != "title"}, "title"),
    ("custom blank tags", {**GOOD_MUSIC["custom"], "tags": "  "}, "tags"),
    ("unknown field", {**GOOD_MUSIC["custom"], "temperature": 0.7}, "temperature"),
    ("field of another mode", {**GOOD_MUSIC["custom"], "persona_id": "p"}, "persona_id"),
    ("unknown task", {**GOOD_MUSIC["custom"], "task": "remix"}, "task"),
    ("no mode at all", {"mv": "chirp-v4"}, "gpt_description_prompt"),
    ("stem id not integer", {**GOOD_MUSIC["gen_stem"], "stem_type_id": 91.5}, "stem_type_id"),
    ("override_fields not a list", {**GOOD_MUSIC["underpainting"], "override_fields": "prompt"}, "override_fields"),
    ("notify_hook from the user", {**GOOD_MUSIC["custom"], "notify_hook": "https://evil.example/"}, "notify_hook"),
    ("notify_hook null", {**GOOD_MUSIC["custom"], "notify_hook": None}, "notify_hook"),
]


@pytest.mark.parametrize(("why", "params", "field"), MUSIC_ERRORS, ids=[case[0] for case in MUSIC_ERRORS])
def test_music_errors_name_the_field(why: str, params: dict[str, Any], field: str) -> None:
    error = refused("music", params)
    assert error.field == field, f"{why}: {error}"
    assert error.status is None, "caught before sending"


GOOD_OTHERS: dict[str, dict[str, Any]] = {
    "lyrics": {"prompt": "[Verse]\ncat"},
    "upload": {"audio_url": "https://cdn.example/a.mp3", "title": "mine"},
    "concat": {"clip_id": "c1", "is_infill": False},
    "separate": {"clip_id": "c1", "task_id": "t1"},
    "persona": {"root_clip_id": "c1", "name": "P", "description": "", "clips": ["c1"], "is_public": True},
    "wav": {"clip_id": "c1"},
    "midi": {"clip_id": "c1"},
    "mp4": {"clip_id": "c1"},
    "timing": {"clip_id": "c1"},
    "udio": {"gen_params": {"prompt": "The last song", "lyrics": "", "lyrics_type": "generate",
                            "bypass_prompt_optimization": False, "seed": -1, "song_section_start": 0.4,
                            "prompt_strength": 0.5, "clarity_strength": 0.25, "lyrics_strength": 0.5,
                            "generation_quality": 0.75, "negative_prompt": "", "model_type": "udio32-v1.5",
                            "config": {"mode": "regular"}}},
}


def test_persona_requires_only_its_root_clip() -> None:
    assert validate_request("persona", {"root_clip_id": "c1"}) == {"root_clip_id": "c1"}


@pytest.mark.parametrize("operation", list(GOOD_OTHERS))
def test_every_other_operation_passes(operation: str) -> None:
    payload = validate_request(operation, GOOD_OTHERS[operation])
    expected = {**GOOD_OTHERS[operation], **({"mode": "full"} if operation == "separate" else {})}
    assert payload == expected


def test_every_operation_is_covered() -> None:
    assert set(GOOD_OTHERS) | {"music"} == set(OPERATIONS)


def test_udio_fills_lyrics_and_config() -> None:
    payload = validate_request("udio", {"gen_params": {"prompt": "p", "lyrics_type": "instrumental",
                                                       "model_type": "udio130-v1.5"}})
    assert payload["gen_params"]["lyrics"] == "" and payload["gen_params"]["config"] == {"mode": "regular"}


def with_gen(**changes: Any) -> dict[str, Any]:
    return {"gen_params": {**GOOD_OTHERS["udio"]["gen_params"], **changes}}


OTHER_ERRORS: list[tuple[str, Any, str]] = [
    ("lyrics", {}, "prompt"),
    ("lyrics", {"prompt": ""}, "prompt"),
    ("lyrics", {"prompt": "x", "notify_hook": "https://x/"}, "notify_hook"),
    ("lyrics", {"prompt": "x", "mv": "chirp-v4"}, "mv"),
    ("upload", {"audio_url": "ftp://x/a.mp3"}, "audio_url"),
    ("upload", {"url": "https://x/a.mp3"}, "url"),
    ("concat", {"clip_id": "c"}, "is_infill"),
    ("concat", {"clip_id": "c", "is_infill": "false"}, "is_infill"),
    ("separate", {"clip_id": "c", "mode": "twelve"}, "mode"),
    ("separate", {"mode": "single"}, "clip_id"),
    ("persona", {**GOOD_OTHERS["persona"], "clips": "c1"}, "clips"),
    ("persona", {**GOOD_OTHERS["persona"], "is_public": 1}, "is_public"),
    ("persona", {k: v for k, v in GOOD_OTHERS["persona"].items() if k != "root_clip_id"}, "root_clip_id"),
    ("wav", {}, "clip_id"),
    ("timing", {"clip_id": "c", "format": "srt"}, "format"),
    ("udio", {}, "gen_params"),
    ("udio", {"gen_params": "x"}, "gen_params"),
    ("udio", with_gen(model_type="udio64"), "gen_params.model_type"),
    ("udio", with_gen(lyrics_type="sung"), "gen_params.lyrics_type"),
    ("udio", with_gen(lyrics_type="user", lyrics=""), "gen_params.lyrics"),
    ("udio", with_gen(prompt_strength=1.5), "gen_params.prompt_strength"),
    ("udio", with_gen(generation_quality=0.6), "gen_params.generation_quality"),
    ("udio", with_gen(song_section_start=0.5, song_section_end=0.5), "gen_params.song_section_end"),
    ("udio", with_gen(seed=1.5), "gen_params.seed"),
    ("udio", with_gen(notify_hook="https://x/"), "gen_params.notify_hook"),
    ("udio", with_gen(style="rock"), "gen_params.style"),
    ("udio", {**with_gen(), "notify_hook": "https://x/"}, "notify_hook"),
    ("video", {}, "operation"),
    ("lyrics", ["prompt"], "params"),
]


@pytest.mark.parametrize(("operation", "params", "field"), OTHER_ERRORS)
def test_other_errors_name_the_field(operation: str, params: Any, field: str) -> None:
    assert refused(operation, params).field == field


json_values = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 100), st.floats(), st.text(max_size=5),
    st.sampled_from(["chirp-v3.5", "extend", "infill", "chirp-auk"]), st.lists(st.text(max_size=3), max_size=2),
)
field_names = st.sampled_from(["prompt", "tags", "title", "mv", "task", "continue_at", "gpt_description_prompt",
                               "make_instrumental", "infill_start_s", "infill_end_s", "persona_id", "x"])


@settings(max_examples=300)
@given(st.sampled_from(OPERATIONS), st.dictionaries(field_names, json_values, max_size=6))
def test_any_input_gives_a_payload_or_a_bad_request_naming_a_field(operation: str, params: dict[str, Any]) -> None:
    try:
        payload = validate_request(operation, params)
    except BadRequest as error:
        assert isinstance(error.field, str) and error.field
    else:
        assert isinstance(payload, dict) and "notify_hook" not in payload

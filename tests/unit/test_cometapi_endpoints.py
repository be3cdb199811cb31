"""The endpoint table, operation routing and prices."""

from __future__ import annotations

import pytest

from shared.cometapi import ENDPOINTS, OPERATIONS, PRICES, body_for, endpoint_for, price_for
from shared.errors import BadRequest

EXPECTED_PATHS = {
    "lyrics": ("POST", "/suno/submit/lyrics"),
    "music": ("POST", "/suno/submit/music"),
    "upload": ("POST", "/suno/submit/upload"),
    "concat": ("POST", "/suno/submit/concat"),
    "separate_full": ("POST", "/suno/submit/audio/separation/full"),
    "separate_single": ("POST", "/suno/submit/audio/separation/single"),
    "persona": ("POST", "/suno/persona/create"),
    "fetch_one": ("GET", "/suno/fetch/{task_id}"),
    "fetch_many": ("POST", "/suno/fetch"),
    "wav": ("GET", "/suno/wav/{clip_id}"),
    "midi": ("GET", "/suno/midi/{clip_id}"),
    "mp4": ("GET", "/suno/mv/{clip_id}"),
    "timing": ("GET", "/suno/timing/{clip_id}"),
    "udio_generate": ("POST", "/udio/generate-proxy"),
    "udio_query": ("GET", "/udio/query"),
    "balance": ("GET", "/user/quota"),
}


def test_the_table_holds_every_endpoint_of_the_handbook() -> None:
    assert {name: (e.method, e.path) for name, e in ENDPOINTS.items()} == EXPECTED_PATHS
    assert all(name == endpoint.name for name, endpoint in ENDPOINTS.items())


def test_scraped_paths_win_and_the_summary_spellings_are_kept_as_alternatives() -> None:
    assert "/suno/submit/persona" in ENDPOINTS["persona"].alt_paths
    assert "/suno/uploads/audio-url" in ENDPOINTS["upload"].alt_paths


@pytest.mark.parametrize(("name", "seed", "act"), [
    ("wav", "/suno/wav/{clip_id}", "/suno/act/wav/{clip_id}"),
    ("midi", "/suno/midi/{clip_id}", "/suno/act/midi/{clip_id}"),
    ("mp4", "/suno/mv/{clip_id}", "/suno/act/mp4/{clip_id}"),
    ("timing", "/suno/timing/{clip_id}", "/suno/act/timing/{clip_id}"),
])
def test_every_export_knows_both_path_families(name: str, seed: str, act: str) -> None:
    endpoint = ENDPOINTS[name]
    assert dict(endpoint.families) == {"seed": seed, "act": act}
    assert endpoint.path_with({"clip_id": "c"}, family="seed") == seed.replace("{clip_id}", "c")
    assert endpoint.path_with({"clip_id": "c"}, family="act") == act.replace("{clip_id}", "c")
    rules = endpoint.route_rules
    assert {endpoint.family_of_rule(rule) for rule in rules} == {"seed", "act"}


def test_paid_and_notify_hook_flags() -> None:
    paid = {name for name, e in ENDPOINTS.items() if e.paid}
    assert paid == {"lyrics", "music", "upload", "concat", "separate_full", "separate_single", "persona",
                    "udio_generate"}
    assert {name for name, e in ENDPOINTS.items() if e.takes_notify_hook} == {"lyrics", "music"}


@pytest.mark.parametrize(("operation", "params", "expected"), [
    ("lyrics", {}, "lyrics"),
    ("music", {"gpt_description_prompt": "x"}, "music"),
    ("music", {"task": "gen_stem"}, "music"),
    ("upload", {}, "upload"),
    ("concat", {}, "concat"),
    ("separate", {}, "separate_full"),
    ("separate", {"mode": "full"}, "separate_full"),
    ("separate", {"mode": "single"}, "separate_single"),
    ("persona", {}, "persona"),
    ("wav", {}, "wav"),
    ("midi", {}, "midi"),
    ("mp4", {}, "mp4"),
    ("timing", {}, "timing"),
    ("udio", {}, "udio_generate"),
])
def test_endpoint_for_every_operation(operation: str, params: dict[str, object], expected: str) -> None:
    assert endpoint_for(operation, params).name == expected


def test_endpoint_for_refuses_unknown_operations_and_modes() -> None:
    with pytest.raises(BadRequest) as caught:
        endpoint_for("video", {})
    assert caught.value.field == "operation"
    with pytest.raises(BadRequest) as caught:
        endpoint_for("separate", {"mode": "twelve"})
    assert caught.value.field == "mode"


def test_path_with_quotes_each_value_and_names_a_missing_one() -> None:
    assert ENDPOINTS["wav"].path_with({"clip_id": "a/b?c"}) == "/suno/wav/a%2Fb%3Fc"
    with pytest.raises(BadRequest) as caught:
        ENDPOINTS["fetch_one"].path_with({"task_id": " "})
    assert caught.value.field == "task_id"


def test_body_for_drops_only_the_routing_key() -> None:
    assert body_for("separate", {"mode": "single", "clip_id": "c"}) == {"clip_id": "c"}
    assert body_for("music", {"mode": "x", "prompt": "p"}) == {"mode": "x", "prompt": "p"}


def test_prices_from_the_api_docs() -> None:
    assert price_for("music", {"gpt_description_prompt": "x"}) == 0.144
    assert price_for("music", {"task": "extend", "continue_clip_id": "c"}) == 0.04
    assert price_for("music", {"task": "upload_extend"}) == 0.04  # an extension too (issue 14)
    assert price_for("lyrics", {"prompt": "x"}) == 0.02
    assert price_for("upload", {"audio_url": "https://a/b.mp3"}) == 0.02
    assert all(price_for(op, {}) >= 0 for op in OPERATIONS)
    assert PRICES["concat"] == 0.0
    with pytest.raises(BadRequest):
        price_for("video", {})

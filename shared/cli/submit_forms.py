"""`hookline submit <op>` for every operation and every music mode, built from the operation registry.

Each command's flags are the upstream's own field names (``continue_clip_id`` -> ``--continue-clip-id``), typed by
the field's kind in the operation's request rules (``form()``): text, numbers, true/false switches, repeatable
lists. ``--param key=value`` sets any other field. Each ``--help`` ends with an example made from the required
fields. A registered operation gets its command without any code here; an operation whose rules offer no form still
gets one, with ``--param`` only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import click

from shared.cometapi.field_rules import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    SECONDS,
    TEXT_LIST,
    FieldSpec,
    as_number,
)
from shared.cometapi.music_modes import MODE_SPECS
from shared.cometapi.operations import MUSIC, REGISTRY

# Older spellings kept on the commands that had them (the README shows them).
FLAG_ALIASES: dict[str, tuple[str, ...]] = {"gpt_description_prompt": ("--description",),
                                            "make_instrumental": ("--instrumental",)}
# What an example puts in a field; the rest get an upper-case placeholder named after the field.
EXAMPLE_VALUES: dict[str, str] = {
    "prompt": '"[Verse] city lights"', "gpt_description_prompt": '"a song about a cat"', "tags": '"synthwave"',
    "title": '"Harbour"', "audio_url": "https://example.com/song.mp3", "lyrics_type": "generate",
    "model_type": "udio32-v1.5", "continue_at": "60", "is_infill": "", "stem_type_id": "91",
    "stem_type_group_name": "Two", "stem_task": "two", "mv": "chirp-auk",
}
SPAN_EXAMPLES = {"_start_s": "10", "_end_s": "30"}
MODE_MV = {"artist_consistency": "chirp-v4-tau", "upload_extend": "chirp-v4-upload"}


@dataclass(frozen=True)
class Form:
    """One command: the operation, the preset fields (a mode's task), the fields offered and where they sit."""

    name: str
    operation: str
    spec: FieldSpec
    container: str | None = None  # "gen_params" for Udio
    preset: Mapping[str, Any] | None = None
    summary: str = ""


def forms() -> list[Form]:
    """A form per registered operation, then one per music mode (``extend``, ``gen-stem``, …)."""
    found: list[Form] = []
    for name, record in REGISTRY.items():
        form = getattr(record.request, "form", None)
        container, spec = form() if form is not None else (None, FieldSpec(kinds={}))
        found.append(Form(name, name, spec, container, summary=f"Submit one {name} job."))
    for mode, spec in MODE_SPECS.items():
        preset = {"task": mode} if "task" in spec.required else None
        kinds = {key: kind for key, kind in spec.kinds.items() if key != "task"}
        found.append(Form(mode.replace("_", "-"), MUSIC, FieldSpec(kinds, spec.required - {"task"}), preset=preset,
                          summary=f"Submit a music job in {mode} mode" + (f" (task={mode})." if preset else ".")))
    return found


def flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def example(form: Form) -> str:
    words = ["hookline submit", form.name]
    required = sorted(form.spec.required)
    if form.name in MODE_MV:
        required.append("mv")
    for field in required:
        if form.spec.kinds.get(field) == BOOLEAN:
            words.append(flag(field) if field != "is_infill" else "--no-is-infill")
            continue
        value = EXAMPLE_VALUES.get(field) or next((v for end, v in SPAN_EXAMPLES.items() if field.endswith(end)), None)
        if field == "mv":
            value = MODE_MV.get(form.name, value)
        words.append(f"{flag(field)} {value or re.sub(r'[^A-Z0-9]+', '_', field.upper())}")
    return " ".join(words) + " --wait"


def _option(field: str, kind: str, required: bool) -> Callable[[Any], Any]:
    names = [flag(field), *FLAG_ALIASES.get(field, ())]
    hint = " (required)" if required else ""
    if kind == BOOLEAN:
        return click.option(f"{flag(field)}/--no-{field.replace('_', '-')}", *FLAG_ALIASES.get(field, ()),
                            field, default=None, help=f"{field}: true or false{hint}")
    if kind == TEXT_LIST:
        return click.option(*names, field, multiple=True, help=f"{field}: repeat for each item{hint}")
    click_type: Any = {NUMBER: float, INTEGER: int}.get(kind, str)
    return click.option(*names, field, type=click_type, default=None,
                        help=f"{field}" + (" (seconds: a number)" if kind == SECONDS else "") + hint)


def field_values(form: Form, given: Mapping[str, Any]) -> dict[str, Any]:
    """The flags that were given, as the fields' values (SECONDS: a number when it reads as one)."""
    values: dict[str, Any] = {}
    for field, kind in form.spec.kinds.items():
        value = given.get(field)
        if value is None or value == ():
            continue
        if kind == TEXT_LIST:
            value = list(value)
        elif kind == SECONDS and isinstance(value, str) and as_number(value) is not None:
            number = float(value)
            value = int(number) if number.is_integer() else number
        values[field] = value
    return values


Run = Callable[[Form, dict[str, Any], tuple[str, ...], bool, bool, float, Any], None]


def build_command(form: Form, run: Run, options: list[Callable[[Any], Any]]) -> click.Command:
    def callback(**given: Any) -> None:
        extra, priority = given.pop("extra", ()), given.pop("priority", None)
        wait, as_json, timeout = given.pop("wait"), given.pop("as_json"), given.pop("timeout")
        run(form, field_values(form, given), extra, wait, as_json, timeout, priority)

    params: list[click.Parameter] = []

    def collect(decorator: Callable[[Any], Any]) -> None:
        holder = decorator(lambda: None)
        params.extend(getattr(holder, "__click_params__", []))

    for field, kind in sorted(form.spec.kinds.items()):
        collect(_option(field, kind, field in form.spec.required))
    collect(click.option("--param", "extra", multiple=True,
                         help="any other upstream field, key=value (JSON values allowed; text fields stay text)"))
    for option in options:
        collect(option)
    where = f" The fields sit in {form.container}." if form.container else ""
    preset = f" Sends {', '.join(f'{k}={v}' for k, v in (form.preset or {}).items())}." if form.preset else ""
    help_text = (f"{form.summary} Flags are the upstream's field names.{preset}{where}\n\n"
                 f"\b\nExample:\n  {example(form)}")
    return click.Command(form.name, callback=callback, params=params, help=help_text,
                         short_help=form.summary.rstrip("."))

"""The operation registry: one record per operation, and the one place that spells operation names.

Each ``Operation`` (see ``operation_record``) says where the operation is sent (rows of the endpoint table), what
it costs, how it finishes, how its answers are read, what it yields, the file an export leaves, how its params are
checked and which pipeline step kinds it offers. The worker, the reconciler, validation, the pipelines, the CLI
and the API read these records; none keeps a table of its own.

``register`` adds an operation (tests add a fake one this way) and ``unregister`` removes it; every reader looks
the registry up when it runs, so a registered operation is accepted everywhere at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from shared.cometapi.answers import (
    read_created_id,
    read_midi_export,
    read_timing_export,
    read_udio_songs,
    read_url_export,
)
from shared.cometapi.endpoints import ENDPOINTS, Endpoint
from shared.cometapi.field_rules import BOOLEAN, TEXT, TEXT_LIST, URL, FieldSpec, FlatRules
from shared.cometapi.music_modes import MusicRules, mv_to_send
from shared.cometapi.operation_record import (
    AUDIO,
    CLIP_ID,
    CLIP_ID_LIST,
    CLIPS,
    LYRICS_TASKS,
    LYRICS_TEXT,
    LYRICS_TITLE,
    PERSONA_ID,
    SOURCE_MV,
    TASK_ID,
    VIDEO,
    ExportArtifact,
    Finish,
    Operation,
    PipelineStep,
    Poll,
    PollReader,
    Routing,
)
from shared.cometapi.udio_rules import UdioRules
from shared.errors import BadRequest

LYRICS = "lyrics"
MUSIC = "music"
UPLOAD = "upload"
CONCAT = "concat"
SEPARATE = "separate"
PERSONA = "persona"
WAV = "wav"
MIDI = "midi"
MP4 = "mp4"
TIMING = "timing"
UDIO = "udio"

# A lyrics job keeps its lyrics under result["lyrics"], a persona job its id under result["persona_id"]; the words
# LYRICS and PERSONA also name what such a job (or step) yields, next to CLIPS.
LYRICS_RESULT_KEY = LYRICS

SEPARATION_MODE_KEY = "mode"  # hookline's routing key for a separation: "full" (default) or "single"


def _music_mode(name: str, binds: Mapping[str, str], time_fields: tuple[str, ...] = (),
                aliases: tuple[str, ...] = ()) -> PipelineStep:
    """A step for one music mode: ``op: extend`` is music with task=extend, from a clip of an earlier step."""
    return PipelineStep(name, preset={"task": name}, takes=CLIPS, binds=binds, time_fields=time_fields,
                        yields=CLIPS, aliases=aliases)


def _takes_a_clip(name: str, **kw: Any) -> PipelineStep:
    return PipelineStep(name, takes=CLIPS, binds={"clip_id": CLIP_ID}, **kw)


def _export(name: str, artifact: ExportArtifact, read: PollReader) -> Operation:
    """A GET export of one clip: no notify_hook, so it is polled, the first call already answering its state.

    The export endpoints are named after their operations in the endpoint table.
    """
    endpoint = ENDPOINTS[name]
    return Operation(
        name, endpoint, Finish.POLL, FlatRules(FieldSpec(kinds={"clip_id": TEXT}, required=frozenset({"clip_id"}))),
        price=0.0, poll=Poll(endpoint, read, by_clip=True), artifact=artifact, steps=(_takes_a_clip(name),),
    )


_CONTINUATION = {"task_id": TASK_ID, "continue_clip_id": CLIP_ID, "mv": SOURCE_MV}
_FROM_LYRICS = {"prompt": LYRICS_TEXT, "title": LYRICS_TITLE}

# Prices are the API docs' "Rate Limits & Pricing"; they name none for most operations, hence the 0.0s.
_BUILT_IN: tuple[Operation, ...] = (
    Operation(
        LYRICS, ENDPOINTS["lyrics"], Finish.CALLBACK,
        FlatRules(FieldSpec(kinds={"prompt": TEXT}, required=frozenset({"prompt"}))),
        price=0.02, yields=LYRICS, fetch_action=LYRICS_TASKS, steps=(PipelineStep(LYRICS, yields=LYRICS),),
    ),
    Operation(
        MUSIC, ENDPOINTS["music"], Finish.CALLBACK, MusicRules(),
        # Every music mode is a create except the extensions; stems (task=gen_stem) are a music mode too.
        # upload_extend is an extension too (of an uploaded clip), so it costs what an extend costs.
        price=0.144, task_prices={"extend": 0.04, "upload_extend": 0.04}, yields=CLIPS,
        steps=(
            PipelineStep("generate", takes=LYRICS, binds=_FROM_LYRICS, yields=CLIPS),
            PipelineStep(MUSIC, takes=LYRICS, binds=_FROM_LYRICS, yields=CLIPS),
            _music_mode("extend", _CONTINUATION, ("continue_at",)),
            _music_mode("infill", _CONTINUATION, ("infill_start_s", "infill_end_s")),
            _music_mode("gen_stem", _CONTINUATION),
            _music_mode("upload_extend", {"continue_clip_id": CLIP_ID}, ("continue_at",)),
            _music_mode("artist_consistency", {"artist_clip_id": CLIP_ID, "persona_id": PERSONA_ID}),
            # The architecture note spells these two short as well.
            _music_mode("underpainting", {"underpainting_clip_id": CLIP_ID},
                        ("underpainting_start_s", "underpainting_end_s"), aliases=("underpaint",)),
            _music_mode("overpainting", {"overpainting_clip_id": CLIP_ID},
                        ("overpainting_start_s", "overpainting_end_s"), aliases=("overpaint",)),
        ),
    ),
    Operation(
        UPLOAD, ENDPOINTS["upload"], Finish.BATCH_FETCH,
        FlatRules(FieldSpec(kinds={"audio_url": URL, "title": TEXT}, required=frozenset({"audio_url"}))),
        price=0.02, yields=CLIPS, steps=(PipelineStep(UPLOAD, yields=CLIPS),),
    ),
    Operation(
        CONCAT, ENDPOINTS["concat"], Finish.BATCH_FETCH,
        FlatRules(FieldSpec(kinds={"clip_id": TEXT, "is_infill": BOOLEAN},
                            required=frozenset({"clip_id", "is_infill"}))),
        price=0.0, yields=CLIPS, steps=(_takes_a_clip(CONCAT, defaults={"is_infill": False}, yields=CLIPS),),
    ),
    Operation(
        # The API docs give no body for the separation endpoints; CometAPI's stem page passes the task id and the
        # clip id. The routing key `mode` picks the endpoint and is not sent.
        SEPARATE, ENDPOINTS["separate_full"], Finish.BATCH_FETCH,
        FlatRules(FieldSpec(kinds={SEPARATION_MODE_KEY: TEXT, "clip_id": TEXT, "task_id": TEXT},
                            required=frozenset({"clip_id"}))),
        price=0.0, yields=CLIPS, steps=(_takes_a_clip(SEPARATE),),
        routing=Routing(SEPARATION_MODE_KEY, {"full": ENDPOINTS["separate_full"],
                                              "single": ENDPOINTS["separate_single"]},
                        default="full", label="separation mode"),
    ),
    Operation(
        PERSONA, ENDPOINTS["persona"], Finish.SYNC,
        FlatRules(FieldSpec(
            kinds={"root_clip_id": TEXT, "name": TEXT, "description": TEXT, "clips": TEXT_LIST, "is_public": BOOLEAN},
            # The persona page's example sends all five but marks none required; the root clip is what it is made of.
            required=frozenset({"root_clip_id"}),
        )),
        price=0.0, read_submit_answer=read_created_id, created_id_key="persona_id", yields=PERSONA,
        steps=(PipelineStep(PERSONA, defaults={"description": "", "is_public": False}, takes=CLIPS,
                            binds={"root_clip_id": CLIP_ID, "clips": CLIP_ID_LIST}, yields=PERSONA),),
    ),
    _export(WAV, ExportArtifact("wav", "wav", media=AUDIO), read_url_export),
    _export(MIDI, ExportArtifact("midi", "mid", keeps_answer=True), read_midi_export),
    _export(MP4, ExportArtifact("video", "mp4", media=VIDEO), read_url_export),
    _export(TIMING, ExportArtifact("timing", "json", keeps_answer=True, fetches_files=False, shows_words=True),
            read_timing_export),
    Operation(
        # No callback is documented for Udio: the generation id the submit answers is polled on /udio/query.
        UDIO, ENDPOINTS["udio_generate"], Finish.POLL, UdioRules(), price=0.0, yields=CLIPS,
        poll=Poll(ENDPOINTS["udio_query"], partial(read_udio_songs, model_name=UDIO), by_clip=False),
        steps=(PipelineStep(UDIO),),
    ),
)

REGISTRY: dict[str, Operation] = {}
_generation = [0]  # bumped on every change, so views derived from the registry know when to rebuild


def registry_generation() -> int:
    return _generation[0]


def register(operation: Operation) -> Operation:
    """Add an operation; its name and its step kinds' names must be new."""
    if operation.name in REGISTRY:
        raise ValueError(f"operation {operation.name!r} is already registered")
    taken = {name for known in REGISTRY.values() for step in known.steps for name in (step.name, *step.aliases)}
    clashes = taken & {name for step in operation.steps for name in (step.name, *step.aliases)}
    if clashes:
        raise ValueError(f"step kinds {sorted(clashes)} of {operation.name!r} are taken")
    REGISTRY[operation.name] = operation
    _generation[0] += 1
    return operation


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)
    _generation[0] += 1


for _operation in _BUILT_IN:
    register(_operation)


class _OperationNames(Sequence[str]):
    """The registered operation names in registration order, read from the registry each time it is used."""

    def __getitem__(self, index: Any) -> Any:
        return list(REGISTRY)[index]

    def __len__(self) -> int:
        return len(REGISTRY)

    def __iter__(self) -> Iterator[str]:
        return iter(list(REGISTRY))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in REGISTRY

    def __repr__(self) -> str:
        return repr(tuple(REGISTRY))


OPERATIONS: Sequence[str] = _OperationNames()


def operation_named(name: str) -> Operation:
    """The record of ``name``, or BadRequest naming the operations there are."""
    found = REGISTRY.get(name) if isinstance(name, str) else None
    if found is None:
        raise BadRequest(f"unknown operation {name!r}; expected one of {', '.join(REGISTRY)}", field="operation")
    return found


def export_artifacts() -> list[ExportArtifact]:
    """What the registered exports leave, in registration order."""
    return [operation.artifact for operation in REGISTRY.values() if operation.artifact is not None]


def endpoint_for(operation: str, params: Mapping[str, Any]) -> Endpoint:
    """The endpoint an operation's call goes to (its routing key, if it has one, picks among several)."""
    return operation_named(operation).endpoint_for(params)


def body_for(operation: str, payload: Mapping[str, Any], *,
             mv_aliases: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The JSON body to send: the payload without hookline's routing key, ``mv`` as written unless
    ``mv_aliases`` (COMETAPI_MV_ALIASES) maps that spelling."""
    known = REGISTRY.get(operation)
    routing = known.routing if known is not None else None
    body = {key: value for key, value in payload.items() if routing is None or key != routing.key}
    if isinstance(body.get("mv"), str) and mv_aliases:
        body["mv"] = mv_to_send(body["mv"], mv_aliases)
    return body

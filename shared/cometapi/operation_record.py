"""The shape of one record of the operation registry: what an operation calls, costs, finishes by and yields.

The records themselves, and the registry that holds them, are in ``operations.py``; nothing here names an
operation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from shared.cometapi.answers import PollAnswer, read_task_id
from shared.cometapi.endpoints import Endpoint
from shared.errors import BadRequest


class Finish(str, Enum):
    """How a job learns its outcome once the submit is accepted."""

    CALLBACK = "callback"  # the upstream calls notify_hook; the reconciler's batch fetch covers a lost callback
    BATCH_FETCH = "batch_fetch"  # the endpoint takes no notify_hook: the reconciler's batch fetch reads the task
    POLL = "poll"  # no task to fetch: the worker polls with short scheduled retries, never sleeping in a task
    SYNC = "sync"  # the submit's answer is the outcome


CLIPS = "clips"  # what a job or a step yields, besides the lyrics and the persona named in operations.py

# Where a step's bound param comes from. From its `from` source: a clip, a list of that clip's id, the source job's
# task, its lyrics, its model version. From its `persona` reference: the persona id.
CLIP_ID = "clip_id"
CLIP_ID_LIST = "clip_id_list"
TASK_ID = "task_id"
SOURCE_MV = "source_mv"  # bound only when the source job sent an mv: an extension keeps its song's model
LYRICS_TEXT = "lyrics_text"
LYRICS_TITLE = "lyrics_title"
PERSONA_ID = "persona_id"

# The batch fetch names one `action` per call; the upstream files lyrics tasks apart from everything else.
MUSIC_TASKS = "MUSIC"
LYRICS_TASKS = "LYRICS"

POLL_FIRST = 0.5  # seconds before the first poll
POLL_CAP = 15.0  # far below Redis's visibility timeout, so a countdown is never redelivered

# Kinds of file an export artifact holds, for the pages that play or list them.
AUDIO, VIDEO, DATA = "audio", "video", "data"


class RequestRules(Protocol):
    """How an operation's params are checked, and turned into the exact body to send."""

    def validate(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]: ...

    def accepted_fields(self, params: Mapping[str, Any]) -> frozenset[str] | None: ...


PollReader = Callable[[dict[str, Any], str], PollAnswer]  # (answer, the clip or id polled) -> the answer, read


@dataclass(frozen=True)
class Routing:
    """A hookline-only param that picks one of several endpoints; it is removed from the body before sending."""

    key: str
    endpoints: Mapping[str, Endpoint]
    default: str
    label: str  # for the error: "<label> must be one of ..."


@dataclass(frozen=True)
class Poll:
    """How a job that never calls back is asked about, and how often."""

    endpoint: Endpoint
    read: PollReader
    # True: the endpoint's path names the clip, so the submit itself is the first poll (the GET exports).
    # False: its ``ids`` query names the id the submit answered.
    by_clip: bool
    first_delay: float = POLL_FIRST
    max_delay: float = POLL_CAP

    def delay(self, polls_so_far: int) -> float:
        """Countdown before the next poll: 0.5, 1, 2, 4, 8, 15, 15, … seconds."""
        return min(self.first_delay * (2 ** polls_so_far), self.max_delay)


@dataclass(frozen=True)
class ExportArtifact:
    """The file an export leaves: its Artifact.kind, and how it is kept."""

    kind: str
    extension: str  # of a downloaded file whose URL names none
    media: str = DATA  # AUDIO | VIDEO | DATA
    keeps_answer: bool = False  # the answer itself is kept too, as <operation>.json
    fetches_files: bool = True  # False: the answer carries no file to fetch
    shows_words: bool = False  # holds the aligned lyric words the job page shows


@dataclass(frozen=True)
class PipelineStep:
    """What a pipeline spec ``op`` means for its operation: fixed and default params, and what it binds."""

    name: str
    preset: Mapping[str, Any] = field(default_factory=dict)  # fixed (task=extend); an explicit other value is an error
    defaults: Mapping[str, Any] = field(default_factory=dict)  # used unless given
    takes: str | None = None  # what a `from` source must yield; None: takes no `from`
    binds: Mapping[str, str] = field(default_factory=dict)  # param -> where its value comes from
    time_fields: tuple[str, ...] = ()  # seconds into the picked clip: checked against its duration
    yields: str | None = None  # may say less than its operation: only these outputs are offered to later steps
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    """Everything hookline knows about one operation; consumers read this instead of keeping tables."""

    name: str
    endpoint: Endpoint  # where the submit goes, and with which method
    finish: Finish
    request: RequestRules
    price: float  # US dollars per call; 0.0 means "unknown", not "free"
    task_prices: Mapping[str, float] = field(default_factory=dict)  # by the `task` param, where it changes the price
    routing: Routing | None = None  # replaces ``endpoint`` when the params pick among several
    poll: Poll | None = None  # Finish.POLL only
    read_submit_answer: Callable[[Any], str | None] = read_task_id
    created_id_key: str | None = None  # Finish.SYNC: the result field that keeps the id the submit answered
    yields: str | None = None  # CLIPS, or the lyrics or persona the job keeps in its result; None for exports
    fetch_action: str = MUSIC_TASKS
    artifact: ExportArtifact | None = None
    steps: tuple[PipelineStep, ...] = ()

    def __post_init__(self) -> None:
        # The facts that must agree, checked once here rather than assumed by each reader.
        if (self.finish is Finish.CALLBACK) != self.endpoint.takes_notify_hook:
            raise ValueError(f"{self.name}: only an endpoint that takes notify_hook finishes by callback")
        if (self.finish is Finish.POLL) != (self.poll is not None):
            raise ValueError(f"{self.name}: a poll record goes with Finish.POLL, and only with it")
        if (self.finish is Finish.SYNC) != (self.created_id_key is not None):
            raise ValueError(f"{self.name}: a synchronous operation names the result field of its id")

    @property
    def yields_clips(self) -> bool:
        return self.yields == CLIPS

    @property
    def submit_is_first_poll(self) -> bool:
        """The GET exports: the call that starts the job already answers with its state."""
        return self.poll is not None and self.poll.by_clip

    def endpoint_for(self, params: Mapping[str, Any]) -> Endpoint:
        if self.routing is None:
            return self.endpoint
        choice = params.get(self.routing.key, self.routing.default)
        if choice not in self.routing.endpoints:
            raise BadRequest(
                f"{self.routing.label} must be one of {sorted(self.routing.endpoints)}, got {choice!r}",
                field=self.routing.key,
                operation=self.name,
            )
        return self.routing.endpoints[choice]

    def price_for(self, payload: Mapping[str, Any]) -> float:
        task = payload.get("task")
        return self.task_prices[task] if isinstance(task, str) and task in self.task_prices else self.price

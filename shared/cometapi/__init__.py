"""Client package for the CometAPI Suno/Udio music API: the operation registry, endpoints, validation, prices,
errors, retries.

``OPERATIONS`` is the registered operation names (in order); ``operation_named(name)`` is an operation's record.
"""

from __future__ import annotations

from shared.cometapi.client import FETCH_MANY_LIMIT, CometClient, ResponseRecord
from shared.cometapi.endpoints import ENDPOINTS, Endpoint
from shared.cometapi.music_modes import MUSIC_MODES
from shared.cometapi.operation_record import Finish, Operation
from shared.cometapi.operations import (
    OPERATIONS,
    REGISTRY,
    body_for,
    endpoint_for,
    operation_named,
    register,
    unregister,
)
from shared.cometapi.prices import PRICES, price_for
from shared.cometapi.responses import parse_task, submitted_id
from shared.cometapi.retry import (
    MAX_RETRIES,
    RETRY_BASE,
    RETRY_FACTOR,
    RETRY_MAX_DELAY,
    backoff,
    jitter,
    parse_retry_after,
    retry_delay,
)
from shared.cometapi.send_outcome import request_was_sent
from shared.cometapi.status_map import exception_for_status
from shared.cometapi.validation import MODELS, TAU_MODELS, music_mode, normalize_mv, validate_request

__all__ = [
    "ENDPOINTS",
    "FETCH_MANY_LIMIT",
    "MAX_RETRIES",
    "MODELS",
    "MUSIC_MODES",
    "OPERATIONS",
    "PRICES",
    "REGISTRY",
    "RETRY_BASE",
    "RETRY_FACTOR",
    "RETRY_MAX_DELAY",
    "TAU_MODELS",
    "CometClient",
    "Endpoint",
    "Finish",
    "Operation",
    "ResponseRecord",
    "backoff",
    "body_for",
    "endpoint_for",
    "exception_for_status",
    "jitter",
    "music_mode",
    "normalize_mv",
    "operation_named",
    "parse_retry_after",
    "parse_task",
    "price_for",
    "register",
    "request_was_sent",
    "retry_delay",
    "submitted_id",
    "unregister",
    "validate_request",
]

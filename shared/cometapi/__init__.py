"""Client package for the CometAPI Suno/Udio music API: endpoints, validation, prices, errors, retries."""

from __future__ import annotations

from shared.cometapi.client import FETCH_MANY_LIMIT, CometClient, ResponseRecord
from shared.cometapi.endpoints import (
    ENDPOINTS,
    EXPORT_OPERATIONS,
    OPERATIONS,
    Endpoint,
    body_for,
    endpoint_for,
)
from shared.cometapi.music_modes import MUSIC_MODES
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
    "EXPORT_OPERATIONS",
    "FETCH_MANY_LIMIT",
    "MAX_RETRIES",
    "MODELS",
    "MUSIC_MODES",
    "OPERATIONS",
    "PRICES",
    "RETRY_BASE",
    "RETRY_FACTOR",
    "RETRY_MAX_DELAY",
    "TAU_MODELS",
    "CometClient",
    "Endpoint",
    "ResponseRecord",
    "backoff",
    "body_for",
    "endpoint_for",
    "exception_for_status",
    "jitter",
    "music_mode",
    "normalize_mv",
    "parse_retry_after",
    "parse_task",
    "price_for",
    "request_was_sent",
    "retry_delay",
    "submitted_id",
    "validate_request",
]

"""The OpenAPI 3.1 ``webhooks`` section: every outgoing event (``shared.outgoing.EVENT_TYPES``), what its body
holds, and the Standard Webhooks headers it is signed with (``shared.outgoing.delivery.signed_request``)."""

from __future__ import annotations

from typing import Any

from shared.outgoing import EVENT_TYPES

STANDARD_WEBHOOKS_HEADERS = [
    {"name": "webhook-id", "in": "header", "required": True,
     "description": "the event's stable id (msg_…): the same on every retry; deduplicate on it",
     "schema": {"type": "string", "pattern": "^msg_[0-9a-f]+$"}},
    {"name": "webhook-timestamp", "in": "header", "required": True,
     "description": "Unix seconds when this attempt was signed; refuse ones too far from your clock",
     "schema": {"type": "string", "pattern": "^[0-9]+$"}},
    {"name": "webhook-signature", "in": "header", "required": True,
     "description": "`v1,<base64 HMAC-SHA256>` over `<webhook-id>.<webhook-timestamp>.<body>` with the key's "
                    "secret (`hookline apikey webhook-secret KEY_ID`, whsec_…); verify with any Standard Webhooks "
                    "library",
     "schema": {"type": "string", "pattern": "^v1,"}},
]
DATA_SCHEMA = {"job": "Job", "pipeline": "Pipeline", "bulk": "BulkProgress"}


def event_schema(event_type: str) -> dict[str, Any]:
    kind = event_type.split(".", 1)[0]
    return {"type": "object", "required": ["type", "timestamp", "data"], "properties": {
        "type": {"const": event_type},
        "timestamp": {"type": "string", "description": "ISO 8601, UTC: when the event happened"},
        "data": {"$ref": f"#/components/schemas/{DATA_SCHEMA[kind]}"},
    }}


def event_schema_name(event_type: str) -> str:
    return "Event_" + "".join(part.capitalize() for part in event_type.split("."))


def webhook_schemas() -> dict[str, Any]:
    return {event_schema_name(event): event_schema(event) for event in EVENT_TYPES}


def webhooks() -> dict[str, Any]:
    """``webhooks`` of the document: one POST per event type to the producer's ``callback_url``."""
    described: dict[str, Any] = {}
    for event in EVENT_TYPES:
        kind, _, status = event.partition(".")
        described[event] = {"post": {
            "operationId": "on" + "".join(p.capitalize() for p in (kind, status)),
            "summary": f"the {kind} ended: {status}" if kind != "bulk" else "every line of a bulk batch ended",
            "description": f"Sent to the `callback_url` of the {kind} (and of its API key's deliveries), signed "
                           "with Standard Webhooks. Retried on HOOKLINE_WEBHOOK_SCHEDULE until a 2xx; a 410 "
                           "disables the endpoint (`hookline deliveries enable-endpoint URL` undoes it).",
            "tags": ["webhooks"],
            "parameters": STANDARD_WEBHOOKS_HEADERS,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{event_schema_name(event)}"}}}},
            "responses": {
                "2XX": {"description": "received: the delivery is done"},
                "410": {"description": "gone: hookline stops sending to this endpoint"},
                "default": {"description": "anything else is retried later"},
            },
        }}
    return described

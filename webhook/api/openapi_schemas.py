"""JSON Schemas (2020-12, as OpenAPI 3.1 takes them) of what the receiver answers and accepts."""

from __future__ import annotations

from typing import Any

from shared.outgoing import EVENT_TYPES
from shared.states import JobStatus, PipelineStatus


def nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


STRING, INTEGER, NUMBER, BOOLEAN = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
TIME = {"type": "string", "description": "ISO 8601, UTC"}
OBJECT = {"type": "object"}


def obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, **extra}
    schema["required"] = list(properties) if required is None else required
    return schema


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


LINE_ERROR = obj({"line": INTEGER, "field": nullable("string"), "message": STRING})
ESTIMATE = {
    "estimated_cost_usd": {"type": "number", "description": "the most it may cost, from the registry's prices"},
    "estimate_note": {"type": ["string", "null"], "description": "what the estimate assumed: a fan-out (`pick: "
                      "each`) is counted at its cap, HOOKLINE_MAX_FAN_OUT (worst case)"},
}

PRIORITY = {"description": "admission priority: interactive (200), pipeline (100), bulk (0) or an integer from "
                          "-1000 to 1000; a waiting job gains 100 per HOOKLINE_PRIORITY_AGEING seconds",
            "anyOf": [{"enum": ["interactive", "pipeline", "bulk"]},
                      {"type": "integer", "minimum": -1000, "maximum": 1000}]}
QUEUE_TEXT = ("only GET /v1/jobs/{job_id}, for a queued job: priority, owner, position (estimated, 1 = next; 0 = "
              "admitted) and the reason it waits (in-flight cap, rate, owner limit, daily budget, higher priority)")
LIMIT_PROPERTIES = {
    "max_in_flight": {"type": ["integer", "null"], "minimum": 1, "maximum": 1000000},
    "rate": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 1000000,
             "description": "submits per second"},
    "default_priority": {"anyOf": [PRIORITY, {"type": "null"}]},
    "budget_usd_per_day": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 1000000,
                           "description": "USD per UTC day; its jobs wait (queued) while it is spent"},
}
KEY = {"id": STRING, "name": STRING, "budget_usd_per_day": nullable("number"), "disabled": BOOLEAN,
       "max_in_flight": nullable("integer"), "rate": nullable("number"),
       "default_priority": {"type": ["string", "integer", "null"]}, "created_at": nullable("string")}

SCHEMAS: dict[str, Any] = {
    "Error": obj({"error": obj({"code": STRING, "message": STRING, "field": STRING,
                                "details": {"type": "array", "items": OBJECT}}, ["code", "message"])}),
    "Created": obj({"id": STRING}),
    "Clip": obj({"id": STRING, "title": nullable("string"), "audio_url": nullable("string"),
                 "image_url": nullable("string"), "duration": nullable("number"), "status": nullable("string")}),
    "Job": obj({
        "id": STRING, "operation": STRING, "status": {"enum": [s.value for s in JobStatus]},
        "upstream_task_id": nullable("string"), "attempts": INTEGER, "error": nullable("string"),
        "warnings": {"type": "array", "items": STRING, "description": "accepted, but warned about: an unknown mv "
                     "sent as given, fields inspiration mode does not document"},
        "progress": nullable("string"), "clips": {"type": "array", "items": ref("Clip")},
        "lyrics": {"type": ["object", "null"]}, "result": {"type": ["object", "null"]},
        "pipeline_id": nullable("string"), "step": nullable("string"),
        "artifacts": {"type": "array", "items": ref("Artifact")},
        "callback_url": nullable("string"), "bulk_id": nullable("string"),
        "created_at": TIME, "updated_at": TIME, "finished_at": nullable("string"),
        "priority": INTEGER, "owner": STRING, "queue": {**nullable("object"), "description": QUEUE_TEXT},
    }, ["id", "operation", "status", "attempts", "clips", "created_at"]),
    "Artifact": obj({
        "id": INTEGER, "kind": STRING, "clip_id": nullable("string"),
        "key": {**nullable("string"), "description": "its key in the artifact store, once stored"},
        "url": {**nullable("string"), "description": "GET it here once stored (ranges, ETag)"},
        "size": nullable("integer"), "sha256": nullable("string"), "content_type": nullable("string"),
        "status": {"enum": ["pending", "stored", "refused", "failed"]}, "error": nullable("string"),
        "source_url": STRING,
    }, ["kind", "status", "source_url"], description="a file the job produced; `id` (where given) names it in "
       "GET /v1/jobs/{job_id}/artifacts/{artifact_id}"),
    "JobPage": obj({"data": {"type": "array", "items": ref("Job")}, "next_cursor": nullable("string")}),
    "JobRetried": obj({"id": STRING, "retry_of": STRING, "warning": STRING}, ["id", "retry_of"]),
    "Pipeline": obj({
        "id": STRING, "name": nullable("string"), "status": {"enum": [s.value for s in PipelineStatus]},
        "error": nullable("string"), "cost_usd": NUMBER, "steps": {"type": "array", "items": OBJECT},
        "callback_url": nullable("string"), "bulk_id": nullable("string"),
        "created_at": TIME, "updated_at": TIME, "finished_at": nullable("string"),
    }, ["id", "status", "steps"]),
    "PipelineRequest": obj({
        "spec": {"type": "object", "description": "a pipeline spec: {name?, vars?, steps: {name: {op, params, from, "
                                                  "pick}}}"},
        "name": {"type": "string", "maxLength": 128},
        "callback_url": {"type": "string", "format": "uri"},
        "priority": PRIORITY,
    }, ["spec"], additionalProperties=False),
    "PipelineCreated": obj({"id": STRING, **ESTIMATE}, ["id", "estimated_cost_usd"]),
    "PipelinePage": obj({"data": {"type": "array", "items": ref("Pipeline")}, "next_cursor": nullable("string")}),
    "PipelineRetried": obj({"id": STRING, "jobs": {"type": "array", "items": STRING}}),
    "BulkAccepted": obj({
        "id": STRING, "bulk_id": STRING, "source": STRING, "lines": INTEGER, "valid": INTEGER, "invalid": INTEGER,
        "errors": {"type": "array", "items": LINE_ERROR}, "errors_truncated": BOOLEAN, "resumed": BOOLEAN,
        "accepted": INTEGER, "already_accepted": INTEGER, "duplicates": INTEGER,
        "interrupted": {"type": "array", "items": INTEGER}, "rate": nullable("number"), **ESTIMATE,
    }, ["id", "lines", "valid", "invalid", "accepted", "already_accepted", "estimated_cost_usd"]),
    "BulkProgress": obj({
        "id": STRING, "name": nullable("string"), "total": INTEGER, "accepted": INTEGER, "queued": INTEGER,
        "running": INTEGER, "succeeded": INTEGER, "failed": INTEGER, "canceled": INTEGER, "cost_usd": NUMBER,
        "rate": nullable("number"), "callback_url": nullable("string"), "finished": BOOLEAN,
        "finished_event_sent": BOOLEAN, "created_at": nullable("string"),
    }),
    "BulkPage": obj({"data": {"type": "array", "items": ref("BulkProgress")}}),
    "Costs": obj({
        "currency": {"const": "USD"}, "since": STRING, "until": STRING, "total_usd": NUMBER,
        "days": {"type": "array", "items": obj({"day": STRING, "cost_usd": NUMBER, "paid_calls": INTEGER})},
    }),
    "Health": obj({"ok": BOOLEAN, "database": STRING}, ["ok"]),
    "ApiKey": obj(KEY),
    "ApiKeyPage": obj({"data": {"type": "array", "items": ref("ApiKey")}}),
    "ApiKeyLimits": obj(LIMIT_PROPERTIES, [], additionalProperties=False),
    "CallbackAccepted": obj({"ok": BOOLEAN, "verdict": STRING, "status": STRING}, ["ok"]),
    "WebhookEvent": obj({
        "type": {"enum": list(EVENT_TYPES)},
        "timestamp": TIME, "data": {"type": "object", "description": "the Job, Pipeline or BulkProgress"},
    }),
}

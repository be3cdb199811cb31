"""The OpenAPI 3.1 document of the receiver, served at /openapi.json. tests/unit/test_api_openapi.py checks that
every route under /v1, /hooks and /healthz is described here (and nothing else), and an end-to-end test runs
schemathesis against a running receiver with it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from shared.cometapi import OPERATIONS
from shared.states import JobStatus, PipelineStatus
from webhook.api.openapi_artifacts import artifact_download
from webhook.api.openapi_params import params_schemas
from webhook.api.openapi_schemas import SCHEMAS, ref
from webhook.api.openapi_webhooks import webhook_schemas, webhooks

JSON = "application/json"
MAX_ATTEMPT = 2**31 - 1  # attempt numbers are small; the receiver stores them in an integer column
ERROR_TEXT = {400: "bad input (the field is named)", 401: "no or wrong credentials", 404: "not found (or not yours)",
              403: "only the admin token (HOOKLINE_API_TOKEN) may",
              402: "the cost estimate exceeds what the daily budget of the key or of the system has left (code "
                   "over_budget; details: estimated_cost_usd, remaining_usd, budget); nothing was written",
              409: "not possible in the current state, or a request with the same Idempotency-Key is still in "
                   "progress (code idempotency_in_progress, with Retry-After)", 413: "body too large", 415: "not JSON",
              422: "Idempotency-Key reused with a different request", 429: "too many requests",
              503: "not applied; retry later"}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


def _path(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "description": "replays the first 2xx answer for the same key and request; 409 while the "
                                  "first request with this key is still in progress; 422 if the request differs",
                   "schema": {"type": "string", "minLength": 1, "maxLength": 255}}
LIMIT = _query("limit", "page size, 1-200 (default 50)", {"type": "integer", "minimum": 1, "maximum": 200})
CURSOR = _query("cursor", "next_cursor of the previous page")
CREATED = [_query("created_after", "ISO 8601 time", {"type": "string", "format": "date-time"}),
           _query("created_before", "ISO 8601 time", {"type": "string", "format": "date-time"})]


def operation(summary: str, ok: dict[int, str | None], errors: tuple[int, ...], *, tag: str,
              parameters: list[dict[str, Any]] | None = None, body: dict[str, Any] | None = None,
              secured: bool = True, description: str | None = None) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, schema in ok.items():
        responses[str(status)] = {"description": "OK" if status < 300 else summary}
        if schema is not None:
            responses[str(status)]["content"] = {JSON: {"schema": ref(schema)}}
    for status in (*errors, *((401,) if secured else ())):
        responses[str(status)] = {"description": ERROR_TEXT[status], "content": {JSON: {"schema": ref("Error")}}}
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses,
                          "parameters": list(parameters or [])}
    if description:
        op["description"] = description
    if body is not None:
        op["requestBody"] = {"required": True, "content": body}
    if not secured:
        op["security"] = []
    return op


def post(summary: str, ok: dict[int, str | None], errors: tuple[int, ...], **kw: Any) -> dict[str, Any]:
    kw["parameters"] = [*kw.get("parameters", []), IDEMPOTENCY_KEY]
    return operation(summary, ok, tuple(sorted({*errors, 409, 413, 422})), **kw)


def _json_body(schema: str) -> dict[str, Any]:
    return {JSON: {"schema": ref(schema)}}


def paths() -> dict[str, Any]:
    job_id, pipeline_id, bulk_id = _path("job_id"), _path("pipeline_id"), _path("bulk_id")
    statuses = {"type": "string", "description": "comma-separated: " + ", ".join(s.value for s in JobStatus)}
    jobs_filters = [_query("status", "job statuses, comma-separated", statuses),
                    _query("operation", "operations, comma-separated: " + ", ".join(OPERATIONS)),
                    _query("pipeline", "pipeline id"), _query("bulk", "bulk batch id"), *CREATED, LIMIT, CURSOR]
    bulk_options = [_query("skip_invalid", "accept the valid lines even when some are bad",
                           {"type": "boolean"}),
                    _query("rate", "cap on upstream submits per second for this batch", {"type": "number",
                                                                                         "exclusiveMinimum": 0}),
                    _query("name", "a label for the batch", {"type": "string", "maxLength": 255}),
                    _query("callback_url", "gets bulk.finished", {"type": "string", "format": "uri"}),
                    _query("format", "jsonl or csv (default: from the body)", {"enum": ["jsonl", "csv"]}),
                    _query("priority", "of the batch's jobs: interactive, pipeline, bulk (default) or an integer")]
    lines_body = {media: {"schema": {"type": "string"}} for media in ("application/x-ndjson", "text/csv")}
    return {
        "/v1/jobs": {
            "post": post("Create a job", {202: "Created"}, (400,), tag="jobs", body=_json_body("JobRequest")),
            "get": operation("List jobs, newest first", {200: "JobPage"}, (400,), tag="jobs", parameters=jobs_filters),
        },
        "/v1/jobs/{job_id}": {"get": operation("Read a job", {200: "Job"}, (400, 404), tag="jobs",
                                               parameters=[job_id])},
        "/v1/jobs/{job_id}/cancel": {"post": post(
            "Cancel an unfinished job", {200: "Job"}, (400, 404, 409), tag="jobs", parameters=[job_id],
            description="Compare-and-set to canceled. The upstream has no cancel: a submitted task still runs.")},
        "/v1/jobs/{job_id}/retry": {"post": post(
            "Retry a failed or canceled job as a new job", {202: "JobRetried"}, (400, 404, 409), tag="jobs",
            parameters=[job_id], description="Never for a succeeded job; once per job (retry the new one next).")},
        "/v1/jobs/{job_id}/artifacts/{artifact_id}": artifact_download(job_id),
        "/v1/pipelines": {
            "post": post("Create a pipeline", {202: "PipelineCreated"}, (400, 402), tag="pipelines",
                         body=_json_body("PipelineRequest")),
            "get": operation("List pipelines", {200: "PipelinePage"}, (400,), tag="pipelines", parameters=[
                _query("status", "pipeline statuses, comma-separated: " + ", ".join(s.value for s in PipelineStatus)),
                _query("bulk", "bulk batch id"), *CREATED, LIMIT, CURSOR]),
        },
        "/v1/pipelines/{pipeline_id}": {"get": operation("Read a pipeline", {200: "Pipeline"}, (400, 404),
                                                         tag="pipelines", parameters=[pipeline_id])},
        "/v1/pipelines/{pipeline_id}/cancel": {"post": post("Cancel a running pipeline", {200: "Pipeline"},
                                                            (400, 404, 409), tag="pipelines",
                                                            parameters=[pipeline_id])},
        "/v1/pipelines/{pipeline_id}/retry": {"post": post(
            "Re-run failed, skipped and canceled steps", {202: "PipelineRetried"}, (400, 404, 409),
            tag="pipelines", parameters=[pipeline_id])},
        "/v1/bulk": {
            "post": post("Accept a bulk file (JSONL or CSV body)", {202: "BulkAccepted"}, (400, 402), tag="bulk",
                         parameters=bulk_options, body=lines_body),
            "get": operation("List bulk batches", {200: "BulkPage"}, (400,), tag="bulk", parameters=[
                LIMIT, _query("unfinished", "only batches not finished yet", {"type": "boolean"})]),
        },
        "/v1/bulk/{bulk_id}": {"get": operation("Progress of a bulk batch", {200: "BulkProgress"}, (400, 404),
                                                tag="bulk", parameters=[bulk_id])},
        "/v1/costs": {"get": operation("Upstream spend per UTC day", {200: "Costs"}, (400,), tag="costs", parameters=[
            _query("since", "first day, YYYY-MM-DD (default: 30 days ago)", {"type": "string", "format": "date"}),
            _query("until", "last day, YYYY-MM-DD (default: today)", {"type": "string", "format": "date"})])},
        "/v1/keys": {
            "get": operation("List API keys and their limits (admin)", {200: "ApiKeyPage"}, (400, 403), tag="keys"),
        },
        "/v1/keys/{key_id}": {"patch": operation(
            "Set a key's admission limits, default priority and daily budget (admin); null clears one", {200: "ApiKey"},
            (400, 403, 404, 413, 415), tag="keys", parameters=[_path("key_id")], body=_json_body("ApiKeyLimits"))},
        "/hooks/cometapi/{job_id}/{attempt}/{token}": {"post": operation(
            "Upstream task callback (the notify_hook)", {200: "CallbackAccepted"}, (400, 401, 404, 413, 415, 429),
            tag="callbacks", secured=False,
            parameters=[job_id, _path("attempt", {"type": "integer", "minimum": 1, "maximum": MAX_ATTEMPT}),
                        _path("token")],
            body={JSON: {"schema": {"type": "object"}}},
            description="The token is a capability: HMAC of job id and attempt. Not for producers.")},
        **{path: {"post": operation(
            "A callback without its token (always refused)", {}, (401, 404, 429), tag="callbacks", secured=False,
            parameters=[job_id, _path("attempt", {"type": "integer", "minimum": 1, "maximum": MAX_ATTEMPT})],
            body={JSON: {"schema": {"type": "object"}}},
            description="Answered 401: the token segment of the notify_hook URL is missing.")}
           for path in ("/hooks/cometapi/{job_id}/{attempt}", "/hooks/cometapi/{job_id}/{attempt}/")},
        "/healthz": {"get": operation("Liveness and database readiness", {200: "Health", 503: "Health"}, (),
                                      tag="health", secured=False)},
        "/openapi.json": {"get": operation("This document", {200: None}, (), tag="health", secured=False)},
    }


# (path, method) -> operationId: stable names for client generators (a missing one fails the document's build).
OPERATION_IDS = {
    ("/v1/jobs", "post"): "createJob", ("/v1/jobs", "get"): "listJobs", ("/v1/jobs/{job_id}", "get"): "getJob",
    ("/v1/jobs/{job_id}/cancel", "post"): "cancelJob", ("/v1/jobs/{job_id}/retry", "post"): "retryJob",
    ("/v1/jobs/{job_id}/artifacts/{artifact_id}", "get"): "downloadArtifact",
    ("/v1/pipelines", "post"): "createPipeline", ("/v1/pipelines", "get"): "listPipelines",
    ("/v1/pipelines/{pipeline_id}", "get"): "getPipeline",
    ("/v1/pipelines/{pipeline_id}/cancel", "post"): "cancelPipeline",
    ("/v1/pipelines/{pipeline_id}/retry", "post"): "retryPipeline",
    ("/v1/bulk", "post"): "createBulk", ("/v1/bulk", "get"): "listBulk", ("/v1/bulk/{bulk_id}", "get"): "getBulk",
    ("/v1/costs", "get"): "getCosts",
    ("/v1/keys", "get"): "listApiKeys", ("/v1/keys/{key_id}", "patch"): "updateApiKeyLimits",
    ("/hooks/cometapi/{job_id}/{attempt}/{token}", "post"): "receiveUpstreamCallback",
    ("/hooks/cometapi/{job_id}/{attempt}", "post"): "refuseCallbackWithoutToken",
    ("/hooks/cometapi/{job_id}/{attempt}/", "post"): "refuseCallbackWithoutTokenSlash",
    ("/healthz", "get"): "getHealth", ("/openapi.json", "get"): "getOpenapiDocument",
}


def with_operation_ids(described: dict[str, Any]) -> dict[str, Any]:
    for path, item in described.items():
        for method, op in item.items():
            op["operationId"] = OPERATION_IDS[(path, method)]
    return described


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hookline producer API", "version": "1",
            "description": "Jobs, pipelines and bulk batches for the CometAPI music API. Authenticate with "
                           "`Authorization: Bearer <API key>` (`hookline apikey create`) or the admin token "
                           "(HOOKLINE_API_TOKEN); with neither configured the API is open. Errors are "
                           '`{"error": {"code", "message", "field"?}}`. Outgoing events (`callback_url`) are '
                           "signed with Standard Webhooks: see `webhooks` for every event, its body and headers.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": with_operation_ids(paths()),
        "webhooks": webhooks(),
        "components": {"schemas": {**SCHEMAS, **params_schemas(), **webhook_schemas()},
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def serve_openapi() -> ResponseReturnValue:
    return jsonify(openapi_document())


def register_openapi(blueprint: Blueprint) -> None:
    """/openapi.json sits outside /v1 (and needs no credentials): added to the app when ``blueprint`` is."""

    def add_route(state: BlueprintSetupState) -> None:
        state.app.add_url_rule("/openapi.json", "openapi", serve_openapi, methods=["GET"])

    blueprint.record_once(add_route)

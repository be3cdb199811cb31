"""The OpenAPI description of ``GET /v1/jobs/{job_id}/artifacts/{artifact_id}`` (a file, not JSON, so it does not
fit ``openapi.operation``): whole file, byte range, 304, 416, or a redirect to a signed URL."""

from __future__ import annotations

from typing import Any

from webhook.api.openapi_schemas import ref

MAX_ARTIFACT_ID = 2**31 - 1
_ERROR = {"application/json": {"schema": ref("Error")}}
_FILE = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
_HEADERS = {"ETag": {"description": "the file's sha256, quoted", "schema": {"type": "string"}},
            "Accept-Ranges": {"schema": {"type": "string", "enum": ["bytes"]}}}


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "description": description, "schema": {"type": "string"}}


def artifact_download(job_id: dict[str, Any]) -> dict[str, Any]:
    return {"get": {
        "summary": "Download a stored artifact of a job", "tags": ["jobs"],
        "description": "The file from the artifact store (file or S3), whichever host stored it; the job's `artifacts`"
                       " list each stored file's `url`. Range requests let audio seek. With"
                       " HOOKLINE_ARTIFACT_REDIRECT=1 and an S3 store, a 302 to a signed URL valid 5 minutes."
                       " A dashboard session cookie is accepted here too (read-only), so the dashboard's players use"
                       " this route.",
        "parameters": [job_id, {"name": "artifact_id", "in": "path", "required": True,
                                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ARTIFACT_ID}},
                       _header("Range", "one range, bytes=first-last, first- or -suffix (several: whole file)"),
                       _header("If-None-Match", "the ETag held: 304 when unchanged"),
                       _header("If-Range", "the ETag held: the range is served only if it still matches")],
        "responses": {
            "200": {"description": "the whole file", "content": _FILE, "headers": _HEADERS},
            "206": {"description": "the requested range (Content-Range says which)", "content": _FILE,
                    "headers": {**_HEADERS, "Content-Range": {"schema": {"type": "string"}}}},
            "302": {"description": "redirect to a short-lived signed URL (S3 with HOOKLINE_ARTIFACT_REDIRECT=1)"},
            "304": {"description": "not modified (If-None-Match matched the ETag)"},
            "400": {"description": "unknown query parameter", "content": _ERROR},
            "401": {"description": "no or wrong credentials", "content": _ERROR},
            "404": {"description": "no such job or artifact (or not yours), or not stored", "content": _ERROR},
            "416": {"description": "the range starts past the end (Content-Range: bytes */size)", "content": _ERROR},
            "503": {"description": "the artifact store cannot be read right now", "content": _ERROR},
        },
    }}

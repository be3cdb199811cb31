"""The ``params`` of every operation as JSON Schema, generated from the operation registry's request rules (never
written by hand), and the JobRequest body as ``oneOf`` by operation, so a client generator gets one typed request
per operation.

A rules object with a ``spec`` (FieldSpec) is one flat object; MusicRules is ``anyOf`` its modes (the fields pick
the mode, and modes share fields); UdioRules nests ``gen_params``. Rules of another shape (a new dialect) still get
a schema: an object, described as "checked by the operation's own rules". The receiver's validation remains the
authority (ranges, choices, cross-field rules are only partly expressed here).
"""

from __future__ import annotations

from typing import Any

from shared.cometapi import REGISTRY
from shared.cometapi.field_rules import BOOLEAN, INTEGER, NUMBER, OBJECT, TEXT, TEXT_LIST, URL, FieldSpec
from webhook.api.openapi_schemas import PRIORITY

KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    TEXT: {"type": "string"},
    NUMBER: {"type": "number"},
    INTEGER: {"type": "integer"},
    BOOLEAN: {"type": "boolean"},
    TEXT_LIST: {"type": "array", "items": {"type": "string"}},
    OBJECT: {"type": "object"},
    URL: {"type": "string", "format": "uri", "pattern": "^https?://"},
}
NULL = {"type": "null"}  # the upstream's examples send null for "not given": accepted and dropped


def spec_schema(spec: FieldSpec, title: str | None = None) -> dict[str, Any]:
    """One FieldSpec as a closed object: its fields' kinds, its required fields (non-blank where they must be)."""
    properties: dict[str, Any] = {}
    for name, kind in sorted(spec.kinds.items()):
        schema = dict(KIND_SCHEMAS.get(kind, {}))
        if name in spec.required:
            if kind == TEXT and name not in spec.may_be_blank:
                schema["pattern"] = r"\S"
            if kind == TEXT_LIST:
                schema["minItems"] = 1
            properties[name] = schema
        else:
            properties[name] = {"anyOf": [schema, NULL]}
    result: dict[str, Any] = {"type": "object", "properties": properties, "required": sorted(spec.required),
                              "additionalProperties": False}
    if title:
        result["title"] = title
    return result


def rules_schema(operation: str) -> dict[str, Any]:
    """The ``params`` schema of one registry operation."""
    rules = REGISTRY[operation].request
    spec = getattr(rules, "spec", None)
    if isinstance(spec, FieldSpec):
        return spec_schema(spec)
    kind = type(rules).__name__
    if kind == "MusicRules":
        from shared.cometapi.music_modes import MODE_SPECS

        return {"anyOf": [spec_schema(mode_spec, title=mode) for mode, mode_spec in MODE_SPECS.items()],
                "description": "one of the music modes; the fields (or `task`) select it"}
    if kind == "UdioRules":
        from shared.cometapi import udio_rules

        inner = getattr(udio_rules, "_UDIO_GEN_PARAMS", None)
        gen_params = spec_schema(inner) if isinstance(inner, FieldSpec) else {"type": "object"}
        return {"type": "object", "properties": {"gen_params": gen_params}, "required": ["gen_params"],
                "additionalProperties": False}
    return {"type": "object", "description": f"checked by the {operation} operation's own rules"}


def schema_name(operation: str) -> str:
    return "Params_" + "".join(part.capitalize() for part in operation.replace("-", "_").split("_"))


def params_schemas() -> dict[str, Any]:
    """``Params_<Operation>`` and ``JobRequest_<Operation>`` per operation, and JobRequest as their oneOf."""
    schemas: dict[str, Any] = {}
    variants = []
    for operation in REGISTRY:
        params = schema_name(operation)
        request = params.replace("Params_", "JobRequest_")
        schemas[params] = {**rules_schema(operation), "description": f"params of the {operation} operation "
                           "(the upstream's own field names; notify_hook is added by hookline)"}
        schemas[request] = {
            "type": "object",
            "properties": {
                "operation": {"const": operation},
                "params": {"$ref": f"#/components/schemas/{params}"},
                "callback_url": {"type": "string", "format": "uri",
                                 "description": "gets job.succeeded / job.failed / job.canceled (Standard Webhooks)"},
                "priority": PRIORITY,
            },
            "required": ["operation", "params"],
            "additionalProperties": False,
        }
        variants.append(request)
    schemas["JobRequest"] = {
        "oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in variants],
        "discriminator": {"propertyName": "operation",
                          "mapping": {op: f"#/components/schemas/{name}" for op, name in zip(REGISTRY, variants,
                                                                                            strict=True)}},
    }
    return schemas

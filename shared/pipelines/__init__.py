"""Pipelines: a spec (YAML/JSON) of named steps -> a DAG of jobs, advanced as jobs finish.

Public surface:
- ``parse_spec(document) -> Spec`` (raises ``SpecInvalid`` listing every error), ``load_spec(path_or_example)``,
  ``apply_overrides(document, {"var": v, "step.param": v})``, ``example_names()``
- ``create_pipeline``, ``advance_pipeline``, ``advance_for_job`` (the job follow-up), ``retry_pipeline``,
  ``cancel_pipeline``, ``advance_stalled_pipelines`` (the reconciler's pass)
- ``pipeline_json(session, pipeline)``, ``get_pipeline(pipeline_id)``
- ``plan_advance`` (pure: what happens next) and ``bind_step`` (pure: a step's params from its sources' output)
"""

from __future__ import annotations

from shared.pipelines.bindings import BindingFailed, bind_step
from shared.pipelines.dag import plan_advance
from shared.pipelines.pipeline_view import get_pipeline, pipeline_json
from shared.pipelines.runs import (
    advance_for_job,
    advance_pipeline,
    advance_stalled_pipelines,
    cancel_pipeline,
    create_pipeline,
    retry_pipeline,
)
from shared.pipelines.spec import Spec, SpecInvalid, StepSpec, apply_overrides, example_names, load_spec, parse_spec
from shared.pipelines.step_kinds import STEP_KINDS

__all__ = [
    "STEP_KINDS",
    "BindingFailed",
    "Spec",
    "SpecInvalid",
    "StepSpec",
    "advance_for_job",
    "advance_pipeline",
    "advance_stalled_pipelines",
    "apply_overrides",
    "bind_step",
    "cancel_pipeline",
    "create_pipeline",
    "example_names",
    "get_pipeline",
    "load_spec",
    "parse_spec",
    "pipeline_json",
    "plan_advance",
    "retry_pipeline",
]

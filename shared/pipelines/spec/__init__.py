"""Pipeline specs: parse and validate a document (every error at once), load one from a file or the examples,
and apply ``--set`` overrides."""

from shared.pipelines.spec.files import example_names, load_spec
from shared.pipelines.spec.model import DEFAULT_SPEC_LIMITS, Spec, SpecInvalid, SpecLimits, StepSpec
from shared.pipelines.spec.parse import parse_spec
from shared.pipelines.spec.values import apply_overrides

__all__ = ["DEFAULT_SPEC_LIMITS", "Spec", "SpecInvalid", "SpecLimits", "StepSpec", "apply_overrides", "example_names",
           "load_spec", "parse_spec"]

"""Read a spec from a YAML or JSON file, or a bundled example by name (``long-song``).

Duplicate keys are refused (YAML and JSON parsers would silently keep the last one, hiding a step).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from shared.errors import ValidationError

EXAMPLES_DIR = Path(__file__).parent.parent / "examples"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise ValidationError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})", where="spec")
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def _json_object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValidationError(f"duplicate key {key!r}", where="spec")
        result[key] = value
    return result


def parse_spec_text(text: str, *, json_only: bool = False) -> Any:
    """The document in ``text`` (JSON, or YAML, which JSON also is)."""
    try:
        if json_only:
            return json.loads(text, object_pairs_hook=_json_object_without_duplicates)
        return yaml.load(text, Loader=_StrictLoader)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ValidationError(f"not valid {'JSON' if json_only else 'YAML/JSON'}: {exc}", where="spec") from None


def example_names() -> list[str]:
    return sorted(path.stem for path in EXAMPLES_DIR.glob("*.yaml"))


def load_spec(source: str) -> Any:
    """The spec document from a file path, or from the bundled example of that name."""
    path = Path(source)
    if not path.is_file():
        example = EXAMPLES_DIR / f"{source}.yaml"
        if "/" in source or not example.is_file():
            raise ValidationError(f"no spec file {source!r}, and no bundled example of that name "
                                  f"(examples: {', '.join(example_names())})", where="spec")
        path = example
    return parse_spec_text(path.read_text(encoding="utf-8"), json_only=path.suffix.lower() == ".json")

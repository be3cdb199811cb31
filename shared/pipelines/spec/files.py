"""Read a spec from a YAML or JSON file, or a bundled example by name (``long-song``).

Duplicate keys are refused (YAML and JSON parsers would silently keep the last one, hiding a step). A spec is
untrusted input, so reading it is bounded: the file's size (``MAX_SPEC_BYTES``), its encoding (UTF-8 text only),
how deep it nests (``MAX_DEPTH``) and how many nodes its YAML aliases expand to (``MAX_SPEC_NODES``; a "billion
laughs" document is refused while it is being read, before anything walks it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from shared.errors import ValidationError
from shared.nesting import MAX_DEPTH, NestingTooDeep, loads_bounded

EXAMPLES_DIR = Path(__file__).parent.parent / "examples"
MAX_SPEC_BYTES = 1024 * 1024
MAX_SPEC_NODES = 100_000  # scalars, lists and mappings, counting every alias as the copy it stands for
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16 and UTF-32 byte order marks all start with one of these


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice, and bounds nesting and alias expansion."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded node count, height)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        alias = self.check_event(yaml.AliasEvent)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _refusal(f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return None
        if alias:  # the node it names, read (and counted) once: count it again for each copy it stands for
            size, height = self._size_of(node)
        else:
            children = [self._size_of(child) for child in _children(node)]
            size = 1 + sum(s for s, _ in children)
            height = 1 + max((h for _, h in children), default=0)
            self._sizes[id(node)] = (size, height)
        if self._depth + height > MAX_DEPTH:
            raise _refusal(f"nested deeper than {MAX_DEPTH} levels (through an alias)", node.start_mark)
        if size > MAX_SPEC_NODES:
            raise _refusal(f"expands to more than {MAX_SPEC_NODES} nodes (YAML aliases?)", node.start_mark)
        return node

    def _size_of(self, node: yaml.Node) -> tuple[int, int]:
        if id(node) not in self._sizes:  # an alias to a node still being read: the document contains itself
            raise _refusal("a YAML alias refers to the node that contains it", node.start_mark)
        return self._sizes[id(node)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _refusal(problem: str, mark: Any) -> ValidationError:
    line = f" (line {mark.line + 1})" if mark is not None else ""
    return ValidationError(f"{problem}{line}", where="spec")


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
    kind = "JSON" if json_only else "YAML/JSON"
    try:
        if json_only:
            return loads_bounded(text, object_pairs_hook=_json_object_without_duplicates)
        return yaml.load(text, Loader=_StrictLoader)
    except NestingTooDeep as exc:
        raise ValidationError(str(exc), where="spec") from None
    except RecursionError:  # a bound above should come first; this is the last line of defence
        raise ValidationError(f"nested too deep to read as {kind}", where="spec") from None
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        problem = " ".join(str(exc).split())  # PyYAML's message spans lines; the CLI shows one
        raise ValidationError(f"not valid {kind}: {problem}", where="spec") from None


def example_names() -> list[str]:
    return sorted(path.stem for path in EXAMPLES_DIR.glob("*.yaml"))


def read_spec_file(path: Path) -> str:
    """The text of a spec file: at most MAX_SPEC_BYTES of UTF-8, else a ValidationError naming the file."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror or exc}", where="spec") from None
    if len(data) > MAX_SPEC_BYTES:
        raise ValidationError(f"{path} is larger than {MAX_SPEC_BYTES // 1024} KiB, the most a spec may be",
                              where="spec")
    if data.startswith(_WIDE_BOMS):
        raise ValidationError(f"{path} is UTF-16 or UTF-32 text: save it as UTF-8", where="spec")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ValidationError(f"{path} is not UTF-8 text (byte {exc.start}, line {line}): save it as UTF-8 YAML "
                              "or JSON", where="spec") from None
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise ValidationError(f"{path} holds a NUL byte (line {line}): a binary file, not a spec", where="spec")
    return text


def load_spec(source: str) -> Any:
    """The spec document from a file path, or from the bundled example of that name."""
    path = Path(source)
    if not path.is_file():
        example = EXAMPLES_DIR / f"{source}.yaml"
        if "/" in source or not example.is_file():
            raise ValidationError(f"no spec file {source!r}, and no bundled example of that name "
                                  f"(examples: {', '.join(example_names())})", where="spec")
        path = example
    try:
        return parse_spec_text(read_spec_file(path), json_only=path.suffix.lower() == ".json")
    except ValidationError as exc:
        if str(path) in exc.message:
            raise
        raise ValidationError(f"{path}: {exc.message}", where=exc.where, field=exc.field) from None

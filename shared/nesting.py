"""Bounds on untrusted JSON-like documents: how deep they may nest, checked without recursion.

``json.loads`` recurses once per level and raises RecursionError near 1,000 levels; a document that parses can still
sink code that walks it recursively later. Every reader of user input (spec files, ``--param``, bulk lines) parses
through ``loads_bounded`` or checks ``too_deep``, and refuses past ``MAX_DEPTH`` with ``NestingTooDeep``.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64


class NestingTooDeep(ValueError):
    """A document nests lists and objects deeper than MAX_DEPTH (a ValueError, as a JSON parse error is)."""

    def __init__(self, limit: int = MAX_DEPTH) -> None:
        self.limit = limit
        super().__init__(f"nested deeper than {limit} levels")


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` holds lists or dicts more than ``limit`` levels deep (a scalar is depth 0)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth + 1 > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def loads_bounded(text: str | bytes, limit: int = MAX_DEPTH, **kwargs: Any) -> Any:
    """``json.loads(text)``, refusing a document nested deeper than ``limit`` with NestingTooDeep."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise NestingTooDeep(limit) from None
    # A document cannot nest deeper than it has brackets (those inside strings only overcount): most documents are
    # judged by two counts in C, without walking what was parsed.
    brackets = text.count(b"{") + text.count(b"[") if isinstance(text, bytes) else text.count("{") + text.count("[")
    if brackets > limit and too_deep(value, limit):
        raise NestingTooDeep(limit)
    return value

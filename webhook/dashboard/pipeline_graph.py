"""A pipeline's DAG, laid out for an inline SVG: columns by depth (longest path from a root); edges run only
through the gaps between boxes (never under one), and labels are cut to fit their box.

The edges come from the stored spec, read liberally: steps as a list (``name``) or a mapping, and a step's inputs
under ``from`` / ``after`` / ``needs`` / ``depends_on`` / ``inputs`` as a name, "name.0"-like reference, a list,
or ``{"step": name}``. Only names of real steps count, so a spec shape we do not know just draws unconnected boxes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shared.models import PipelineStep

DEPENDENCY_KEYS = ("from", "persona", "after", "needs", "depends_on", "inputs", "input")
BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 180, 58, 70, 24, 16
_LEADING_NAME = re.compile(r"[A-Za-z0-9_\-]+")


@dataclass(frozen=True)
class Box:
    name: str
    operation: str
    status: str
    x: int
    y: int
    width: int = BOX_W
    height: int = BOX_H

    @property
    def name_label(self) -> str:
        return label(self.name, NAME_CHARS)

    @property
    def meta_label(self) -> str:
        return label(f"{self.operation} · {self.status}", META_CHARS)


@dataclass(frozen=True)
class Edge:
    parent: str
    child: str
    path: str  # SVG path data


@dataclass(frozen=True)
class Graph:
    boxes: list[Box]
    edges: list[Edge]
    width: int
    height: int


def _spec_steps(spec: dict[str, Any]) -> dict[str, Any]:
    steps = spec.get("steps", spec)
    if isinstance(steps, dict):
        return {str(k): v for k, v in steps.items() if isinstance(v, dict)}
    if isinstance(steps, list):
        return {str(s.get("name") or s.get("id")): s for s in steps
                if isinstance(s, dict) and (s.get("name") or s.get("id"))}
    return {}


def _references(value: Any, names: set[str]) -> list[str]:
    if isinstance(value, str):
        if value in names:
            return [value]
        match = _LEADING_NAME.match(value)
        return [match.group(0)] if match and match.group(0) in names else []
    if isinstance(value, dict):
        return [r for key in ("step", "name", "from") if key in value for r in _references(value[key], names)]
    if isinstance(value, list):
        return [r for item in value for r in _references(item, names)]
    return []


def parents_from_spec(spec: dict[str, Any] | None, names: list[str]) -> dict[str, list[str]]:
    known = set(names)
    steps = _spec_steps(spec or {})
    parents: dict[str, list[str]] = {}
    for name in names:
        step = steps.get(name, {})
        found = [r for key in DEPENDENCY_KEYS if key in step for r in _references(step[key], known)]
        parents[name] = [p for i, p in enumerate(found) if p != name and p not in found[:i]]
    return parents


def _depths(names: list[str], parents: dict[str, list[str]]) -> dict[str, int]:
    depth: dict[str, int] = {}

    def visit(name: str, trail: frozenset[str]) -> int:
        if name in depth:
            return depth[name]
        if name in trail:  # a cycle (a broken spec): cut it here
            return 0
        level = max((visit(p, trail | {name}) + 1 for p in parents.get(name, [])), default=0)
        depth[name] = level
        return level

    for name in names:
        visit(name, frozenset())
    return depth


def _channels(rows: int) -> list[float]:
    """The y of every horizontal lane no box covers: above the first row, between rows, below the last."""
    pitch = BOX_H + GAP_Y
    return [PAD / 2, *(PAD + k * pitch - GAP_Y / 2 for k in range(1, rows)), PAD + rows * pitch - GAP_Y + PAD / 2]


def _edge_path(a: Box, b: Box, channels: list[float], lane_use: dict[float, int]) -> str:
    """From the right side of ``a`` to the left side of ``b``, never under a box.

    Adjacent columns: one curve inside the gap between them. Further apart: out into the gap after ``a``'s column,
    along a lane between rows (no box is there), and into the gap before ``b``'s column: orthogonal segments that
    only cross the gaps. Edges sharing a lane are spread a few pixels apart."""
    x1, y1, x2, y2 = a.x + a.width, a.y + a.height // 2, b.x, b.y + b.height // 2
    if x2 - x1 <= GAP_X:  # neighbours: the curve stays between x1 and x2
        mid = (x1 + x2) // 2
        return f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"
    lane = min(channels, key=lambda c: (abs(c - (y1 + y2) / 2), c))
    n = lane_use.get(lane, 0)
    lane_use[lane] = n + 1
    y = lane + (3 * ((n + 1) // 2) * (1 if n % 2 else -1) if n else 0)
    out, back = x1 + GAP_X // 2 - 4 * (n % 3), x2 - GAP_X // 2 + 4 * (n % 3)
    return f"M{x1},{y1} H{out} V{y:g} H{back} V{y2} H{x2}"


def label(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis: a box's label never runs past its box."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


NAME_CHARS, META_CHARS = 19, 26  # what fits in BOX_W at the stylesheet's sizes (13px bold, 11.5px)


def layout(steps: list[PipelineStep], spec: dict[str, Any] | None) -> Graph:
    names = [s.name for s in steps]
    parents = parents_from_spec(spec, names)
    depth = _depths(names, parents)
    rows_used: dict[int, int] = {}
    boxes: dict[str, Box] = {}
    for step in steps:
        column = depth[step.name]
        row = rows_used.get(column, 0)
        rows_used[column] = row + 1
        boxes[step.name] = Box(step.name, step.operation, step.status,
                               PAD + column * (BOX_W + GAP_X), PAD + row * (BOX_H + GAP_Y))
    rows = max(rows_used.values(), default=1)
    channels, lane_use = _channels(rows), dict[float, int]()
    edges = [Edge(parent, child, _edge_path(boxes[parent], boxes[child], channels, lane_use))
             for child, its_parents in parents.items() for parent in its_parents]
    columns = max(depth.values(), default=0) + 1
    return Graph(list(boxes.values()), edges, 2 * PAD + columns * BOX_W + (columns - 1) * GAP_X,
                 2 * PAD + rows * BOX_H + (rows - 1) * GAP_Y)

"""The shape of the house (docs/architecture.md), checked on the import graph and the source tree.

import-linter (``make lint``) holds the layer contracts; these tests hold what it cannot express: no cycle between
any two modules, small production modules, a sandbox of few modules, and task names written in one place.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "worker", "webhook")
MAX_MODULE_LINES = 300
MAX_SANDBOX_MODULES = 20


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm over the module import graph: every group of modules that import each other in a ring."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return groups


def production_modules() -> list[Path]:
    return [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
            if "migrations/versions" not in path.as_posix()]


def test_no_import_cycles_between_modules() -> None:
    graph = grimp.build_graph(*PACKAGES)
    assert strongly_connected(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "b", "c"):
        graph.add_module(module)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    assert strongly_connected(graph) == []
    graph.add_import(importer="c", imported="a")
    assert strongly_connected(graph) == [["a", "b", "c"]]


def test_production_modules_are_small() -> None:
    sizes = {path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines()) for path in production_modules()}
    assert sizes, "no production modules found"
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_the_sandbox_has_few_modules() -> None:
    modules = list((ROOT / "shared" / "sandbox").glob("*.py"))
    assert 0 < len(modules) <= MAX_SANDBOX_MODULES


def test_task_names_are_written_in_one_module() -> None:
    pattern = re.compile(r"""["']hookline\.(submit_job|poll_job|job_finished|reconcile|enqueue_submits|"""
                         r"""deliver_webhook|send_overdue_webhooks)["']""")
    writers = {path.relative_to(ROOT).as_posix() for path in production_modules()
               for line in path.read_text().splitlines()
               if pattern.search(line) and "getLogger(" not in line}  # loggers share the dotted names
    assert writers == {"shared/tasks.py"}


def test_import_contracts_hold() -> None:
    """The same check `make lint` runs, so a wrong-way import fails the test suite too."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout

"""The lock files pin every dependency pyproject.toml names, each with its hashes, so `make` (requirements/dev.txt)
and the image (requirements/runtime.txt) install the same versions everywhere. A dependency added to pyproject.toml
without `make lock` fails here, not on somebody's fresh clone."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCKS = {"dev.txt": ("test", "postgres"), "runtime.txt": ("postgres", "flower")}


def name_of(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def pinned(lock: Path) -> dict[str, str]:
    text = lock.read_text()
    blocks = re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)(?: ;[^\\\n]*)?((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})+)",
                        text, re.M)
    entries = {name_of(n): v for n, v, _ in blocks}
    requirement_lines = [line for line in text.splitlines() if re.match(r"^[A-Za-z0-9]", line)]
    assert len(requirement_lines) == len(blocks), "every pinned requirement carries its sha256 hashes"
    return entries


@pytest.mark.parametrize("lock, extras", LOCKS.items())
def test_every_dependency_is_pinned_with_hashes(lock: str, extras: tuple[str, ...]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {name_of(r) for r in project["dependencies"]}
    for extra in extras:
        wanted |= {name_of(r) for r in project["optional-dependencies"][extra]}
    locked = pinned(ROOT / "requirements" / lock)
    assert not wanted - set(locked), f"run `make lock`: {sorted(wanted - set(locked))} not in requirements/{lock}"


def test_the_runtime_lock_agrees_with_the_dev_lock() -> None:
    dev, runtime = pinned(ROOT / "requirements" / "dev.txt"), pinned(ROOT / "requirements" / "runtime.txt")
    differ = {n: (dev[n], v) for n, v in runtime.items() if n in dev and dev[n] != v}
    assert not differ, f"the image would run other versions than the tests: {differ}"

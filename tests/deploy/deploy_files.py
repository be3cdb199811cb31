"""Readers for the files under deploy/: YAML that remembers line numbers, env files, systemd units, the Dockerfile,
the Procfile, compose services and Kubernetes workloads.

Quick and offline: nothing is built or served. Findings carry `file:line`, so a failure points at the line to fix.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SYSTEMD = DEPLOY / "systemd"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
PROCFILE = DEPLOY / "Procfile"

SECRETS = {"COMETAPI_KEY", "HOOKLINE_HOOK_SECRET", "HOOKLINE_API_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"}


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def where(path: Path, line: int) -> str:
    return f"{rel(path)}:{line}"


# ----------------------------------------------------------------------------------------------- the files


def pattern_lines(path: Path) -> list[str]:
    """The patterns of a .gitignore or .dockerignore file: blank lines and comments left out."""
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def ignored_patterns() -> list[str]:
    gitignore = DEPLOY / ".gitignore"
    return pattern_lines(gitignore) if gitignore.exists() else []


def deploy_files() -> list[Path]:
    """Every committed-looking file under deploy/ (local files that deploy/.gitignore excludes are skipped)."""
    ignored = ignored_patterns()
    found = []
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        name = path.relative_to(DEPLOY).as_posix()
        if any(fnmatch.fnmatch(path.name, pat) or fnmatch.fnmatch(name, pat) for pat in ignored):
            continue
        found.append(path)
    return found


def yaml_files() -> list[Path]:
    return [p for p in deploy_files() if p.suffix in (".yml", ".yaml")]


def env_example_files() -> list[Path]:
    return [p for p in deploy_files() if p.name.endswith(".example") or p.name.endswith(".env")]


# ---------------------------------------------------------------------------------------- line-based formats


def logical_lines(path: Path, comments: tuple[str, ...]) -> Iterator[tuple[str, int]]:
    """(line, first line number) with backslash continuations joined; blank and comment lines left out."""
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        start = i
        line = lines[i].strip()
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i].strip()
        i += 1
        if line and not line.startswith(comments):
            yield line, start + 1


def parse_env_file(path: Path) -> dict[str, tuple[str, int]]:
    """KEY=VALUE lines, as docker compose and systemd's EnvironmentFile= read them; name -> (value, line)."""
    values: dict[str, tuple[str, int]] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        assert sep, f"{where(path, number)}: not KEY=VALUE: {raw!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = (value, number)
    return values


def parse_unit(path: Path) -> list[tuple[str, str, str, int]]:
    """A systemd unit as (section, key, value, line), continuation lines joined."""
    entries = []
    section = ""
    for line, number in logical_lines(path, ("#", ";")):
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip(), number))
    return entries


def parse_dockerfile(path: Path) -> list[tuple[str, str, int]]:
    """Instructions as (INSTRUCTION, arguments, line), continuation lines joined."""
    instructions = []
    for line, number in logical_lines(path, ("#",)):
        word, _, rest = line.partition(" ")
        instructions.append((word.upper(), rest.strip(), number))
    return instructions


def procfile_entries() -> dict[str, tuple[str, int]]:
    """Process type -> (command, line)."""
    entries = {}
    for number, raw in enumerate(PROCFILE.read_text().splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        name, sep, command = raw.partition(":")
        assert sep and re.fullmatch(r"[A-Za-z0-9_-]+", name), f"{where(PROCFILE, number)}: not `type: command`"
        entries[name] = (command.strip(), number)
    return entries


def assigned_names(text: str) -> list[str]:
    """The names in `A=1 B="two words"`, as systemd's Environment= and the Dockerfile's ENV write them."""
    return [item.partition("=")[0] for item in shlex.split(text)]


def docker_args(text: str) -> list[str]:
    """CMD/ENTRYPOINT arguments: exec (JSON) form or shell form."""
    if text.startswith("["):
        return list(json.loads(text))
    return shlex.split(text)


def as_argv(value: Any) -> list[str]:
    """A compose command, entrypoint or healthcheck test: a string (shell words) or a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


# ------------------------------------------------------------------------------------ YAML that keeps lines


class _Str(str):
    """A YAML string that remembers its line."""

    line: int = 0


class _Loader(yaml.SafeLoader):
    pass


def _with_line(text: str, line: int) -> _Str:
    value = _Str(text)
    value.line = line
    return value


_Loader.add_constructor("tag:yaml.org,2002:str",
                        lambda loader, node: _with_line(loader.construct_scalar(node), node.start_mark.line + 1))


def load_yaml(path: Path) -> list[Any]:
    return [doc for doc in yaml.load_all(path.read_text(), Loader=_Loader) if doc is not None]


def line_of(*values: Any, default: int = 1) -> int:
    for value in values:
        if isinstance(value, list) and value:
            value = value[0]
        if getattr(value, "line", 0):
            return value.line
    return default


# ------------------------------------------------------------------------------------------------- compose


def compose_services() -> dict[str, dict[str, Any]]:
    (data,) = load_yaml(COMPOSE)
    return data["services"]


def is_our_compose_service(service: dict[str, Any]) -> bool:
    image = str(service.get("image", ""))
    return "build" in service or image.rsplit("/", 1)[-1].split(":")[0] == "hookline"


def compose_argv(service: dict[str, Any]) -> list[str]:
    return as_argv(service.get("entrypoint")) + as_argv(service.get("command"))


def compose_environment(service: dict[str, Any]) -> dict[str, Any]:
    """A service's `environment:`, in mapping or list (`NAME=value`) form, as name -> value; names keep their line."""
    environment = service.get("environment") or {}
    if not isinstance(environment, list):
        return dict(environment)
    found = {}
    for item in environment:
        name, _, value = item.partition("=")
        found[_with_line(name, line_of(item))] = value
    return found


def interpolated(value: str) -> str:
    """A compose value with ${...} interpolation replaced by a stand-in (``${NAME:-default}``: its default, as
    compose does when NAME is unset), so it can be parsed as a setting."""
    value = re.sub(r"\$\{[A-Za-z0-9_]+:?-([^}]*)\}", r"\1", str(value))
    return re.sub(r"\$\{[^}]*\}", "placeholder", value).replace("$$", "$")


# ---------------------------------------------------------------------------------------------- kubernetes


def k8s_docs() -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.y*ml")):
        try:
            docs += [(path, doc) for doc in load_yaml(path) if isinstance(doc, dict)]
        except yaml.YAMLError:
            pass  # reported by test_yaml_parses
    return docs


def k8s_by_kind() -> dict[str, list[dict[str, Any]]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for _, doc in k8s_docs():
        by_kind.setdefault(str(doc.get("kind")), []).append(doc)
    return by_kind


def k8s_data_items(doc: dict[str, Any]) -> list[tuple[Any, Any]]:
    """Every entry of a ConfigMap or Secret: `data` first, then `stringData` (which wins, as in Kubernetes)."""
    return [*(doc.get("data") or {}).items(), *(doc.get("stringData") or {}).items()]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    kind = doc.get("kind")
    if kind == "Pod":
        return doc.get("spec")
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if kind in WORKLOAD_KINDS:
        return doc["spec"]["template"]["spec"]
    return None


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(doc) or {}
    return list(spec.get("containers") or []) + list(spec.get("initContainers") or [])


def container_argv(container: dict[str, Any]) -> list[str]:
    return [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]


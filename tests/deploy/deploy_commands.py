"""The command line each packaging runs (compose, Kubernetes, systemd, Procfile, the image's CMD), with its place,
and the role it plays."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import yaml

from tests.deploy.deploy_files import (
    COMPOSE,
    DOCKERFILE,
    PROCFILE,
    SYSTEMD,
    compose_argv,
    compose_services,
    container_argv,
    containers,
    docker_args,
    is_our_compose_service,
    k8s_docs,
    line_of,
    parse_dockerfile,
    parse_unit,
    procfile_entries,
    rel,
)


def role_of(argv: tuple[str, ...] | list[str]) -> str:
    """receiver, worker, beat, flower, migrate or other: what a command line runs."""
    if not argv:
        return "receiver"  # the image's CMD
    program, args = os.path.basename(argv[0]), [a for a in argv[1:] if not a.startswith("-")]
    if program == "gunicorn" or args[:1] == ["receiver"]:
        return "receiver"
    if program == "hookline" and args[:2] == ["db", "upgrade"]:
        return "migrate"
    for role in ("worker", "beat", "flower"):
        if role in args[:3]:
            return role
    return "other"


@dataclass(frozen=True)
class Command:
    source: str  # path relative to the repository
    line: int
    argv: tuple[str, ...]
    kind: str  # compose | k8s | systemd | procfile | dockerfile
    owner: str = ""  # compose service / k8s workload / unit / Procfile process type

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    def __str__(self) -> str:
        return f"{self.where}: `{shlex.join(self.argv)}`"


def compose_commands() -> Iterator[Command]:
    for name, service in compose_services().items():
        if not is_our_compose_service(service):
            continue  # redis/postgres: their own images' commands
        entry, cmd = service.get("entrypoint"), service.get("command")
        if entry is None and cmd is None:
            continue  # the image's CMD, checked via the Dockerfile
        yield Command(rel(COMPOSE), line_of(entry, cmd), tuple(compose_argv(service)), "compose", name)


def k8s_commands() -> Iterator[Command]:
    for path, doc in k8s_docs():
        for container in containers(doc):
            command, args = container.get("command") or [], container.get("args") or []
            if not command and not args:
                continue  # the image's CMD, checked via the Dockerfile
            yield Command(rel(path), line_of(command, args, container.get("name")), tuple(container_argv(container)),
                          "k8s", f"{doc['metadata']['name']}/{container.get('name')}")


def systemd_commands() -> Iterator[Command]:
    for path in sorted(SYSTEMD.glob("*.service")):
        for section, key, value, line in parse_unit(path):
            if section == "Service" and key in ("ExecStart", "ExecStartPre", "ExecStartPost"):
                yield Command(rel(path), line, tuple(shlex.split(value.lstrip("@-:+!"))), "systemd", path.name)


def procfile_commands() -> Iterator[Command]:
    for name, (command, line) in procfile_entries().items():
        yield Command(rel(PROCFILE), line, tuple(shlex.split(command)), "procfile", name)


def dockerfile_commands() -> Iterator[Command]:
    entry: tuple[list[str], int] | None = None
    cmd: tuple[list[str], int] | None = None
    for word, args, line in parse_dockerfile(DOCKERFILE):
        if word == "FROM":
            entry = cmd = None  # a new stage; the last stage is the image
        elif word == "ENTRYPOINT":
            entry = (docker_args(args), line)
        elif word == "CMD":
            cmd = (docker_args(args), line)
    if entry or cmd:
        argv = (entry[0] if entry else []) + (cmd[0] if cmd else [])
        yield Command(rel(DOCKERFILE), (entry or cmd)[1], tuple(argv), "dockerfile", "image")  # type: ignore[index]


def all_commands() -> list[Command]:
    """Every command line the deploy files run; a packaging that cannot be read yields one `error` command."""
    found: list[Command] = []
    sources: tuple[Callable[[], Iterator[Command]], ...] = (
        compose_commands, k8s_commands, systemd_commands, procfile_commands, dockerfile_commands)
    for source in sources:
        try:
            found += list(source())
        except (OSError, yaml.YAMLError, KeyError, TypeError, AssertionError) as exc:
            found.append(Command(f"<{source.__name__}>", 0, (f"!{type(exc).__name__}: {exc}",), "error"))
    return found

"""The environment each hookline process gets from the deploy files, and every place a variable is set."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.deploy.deploy_commands import role_of
from tests.deploy.deploy_files import (
    COMPOSE,
    DEPLOY,
    DOCKERFILE,
    SYSTEMD,
    assigned_names,
    compose_argv,
    compose_environment,
    compose_services,
    container_argv,
    containers,
    env_example_files,
    ignored_patterns,
    interpolated,
    is_our_compose_service,
    k8s_data_items,
    k8s_docs,
    line_of,
    parse_dockerfile,
    parse_env_file,
    parse_unit,
    rel,
    where,
)


@dataclass
class EnvSource:
    """The environment one process gets: name -> (value, where it was set)."""

    owner: str
    role: str
    values: dict[str, tuple[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def compose_envs() -> list[EnvSource]:
    envs = []
    for name, service in compose_services().items():
        if not is_our_compose_service(service):
            continue
        env = EnvSource(f"compose service {name}", role_of(compose_argv(service)))
        env_files = service.get("env_file") or []
        for item in [env_files] if isinstance(env_files, (str, dict)) else env_files:
            file = DEPLOY / (item["path"] if isinstance(item, dict) else item)
            example = file.with_name(file.name + ".example")
            if not example.exists():
                env.problems.append(f"env_file {file.name}: commit {rel(example)} to document it")
            source = file if file.exists() and file.name not in ignored_patterns() else example
            if source.exists():
                for key, (value, line) in parse_env_file(source).items():
                    env.values[key] = (value, where(source, line))
        for key, value in compose_environment(service).items():
            env.values[str(key)] = (interpolated(value or ""), where(COMPOSE, line_of(key)))
        envs.append(env)
    return envs


def k8s_envs() -> list[EnvSource]:
    maps: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
    for path, doc in k8s_docs():
        if doc.get("kind") in ("ConfigMap", "Secret"):
            maps[(doc["kind"], doc["metadata"]["name"])] = {
                str(k): (str(v), where(path, line_of(k))) for k, v in k8s_data_items(doc)}
    envs = []
    for path, doc in k8s_docs():
        for container in containers(doc):
            env = EnvSource(f"{rel(path)} {doc['kind']} {doc['metadata']['name']}/{container['name']}",
                            role_of(container_argv(container)))
            for ref in container.get("envFrom") or []:
                for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if key in ref:
                        target = maps.get((kind, ref[key]["name"]))
                        if target is None:
                            env.problems.append(f"envFrom {kind} {ref[key]['name']!r} is not defined in deploy/k8s")
                        else:
                            env.values.update(target)
            for item in container.get("env") or []:
                env.values[str(item["name"])] = (str(item.get("value", "from-ref")), where(path, line_of(item["name"])))
            envs.append(env)
    return envs


def names_set() -> list[tuple[str, str]]:
    """(name, file:line) for every variable the deploy files set, in every place they can set one."""
    found = []
    for env in compose_envs() + k8s_envs():
        found += [(name, at) for name, (_, at) in env.values.items()]
    for path in env_example_files():
        found += [(name, where(path, line)) for name, (_, line) in parse_env_file(path).items()]
    for path in sorted(SYSTEMD.glob("*.service")):
        for _, key, value, line in parse_unit(path):
            if key == "Environment":
                found += [(name, where(path, line)) for name in assigned_names(value)]
    for word, args, line in parse_dockerfile(DOCKERFILE):
        if word == "ENV":
            found += [(name, where(DOCKERFILE, line)) for name in assigned_names(args)]
    return found

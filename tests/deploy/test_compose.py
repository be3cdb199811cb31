"""docker-compose.yml: persistent Redis, PostgreSQL 15, health checks, one migration that the others wait for, one
beat, scalable workers and an optional Flower."""

from __future__ import annotations

from tests.deploy.deploy_commands import role_of
from tests.deploy.deploy_files import as_argv, compose_argv, compose_services, is_our_compose_service


def test_compose_shape() -> None:
    services = compose_services()
    problems = []
    redis_cmd = " ".join(as_argv(services["redis"].get("command")))
    if "--appendonly yes" not in redis_cmd:
        problems.append("redis: run with AOF persistence (redis-server --appendonly yes)")
    if not str(services["postgres"].get("image", "")).startswith("postgres:15"):
        problems.append("postgres: image postgres:15")
    health = {name: " ".join(as_argv(s.get("healthcheck", {}).get("test"))) for name, s in services.items()}
    for name, needle in (("redis", "redis-cli ping"), ("postgres", "pg_isready"), ("receiver", "/healthz")):
        if needle not in health.get(name, ""):
            problems.append(f"{name}: healthcheck should use {needle}")
    by_role: dict[str, list[str]] = {}
    for name, service in services.items():
        if is_our_compose_service(service):
            by_role.setdefault(role_of(compose_argv(service)), []).append(name)
    if len(by_role.get("migrate", [])) != 1:
        problems.append(f"exactly one migrate service, found {by_role.get('migrate')}")
    migrate = (by_role.get("migrate") or ["migrate"])[0]
    for role in ("receiver", "worker", "beat"):
        for name in by_role.get(role, []):
            depends = services[name].get("depends_on") or {}
            condition = depends.get(migrate, {}).get("condition") if isinstance(depends, dict) else None
            if condition != "service_completed_successfully":
                problems.append(f"{name}: depends_on {migrate} with condition service_completed_successfully")
    beats = by_role.get("beat", [])
    if len(beats) != 1 or (services[beats[0]].get("deploy") or {}).get("replicas", 1) != 1:
        problems.append(f"exactly one beat with replicas 1, found {beats}")
    if not all("replicas" in (services[n].get("deploy") or {}) for n in by_role.get("worker", [])):
        problems.append("workers: set deploy.replicas")
    flower = by_role.get("flower", [])
    if len(flower) != 1 or "profiles" not in services[flower[0]]:
        problems.append("Flower: one optional service under a profile")
    assert not problems, "\n  ".join(["", *problems])

"""Every setting name in deploy/ is one hookline reads, the core settings reach every role, and the values load and
point at shared servers."""

from __future__ import annotations

import re

import pytest

from shared.config import VARIABLES, load_settings
from shared.errors import ConfigError
from tests.deploy.deploy_files import deploy_files, rel
from tests.deploy.process_envs import compose_envs, k8s_envs, names_set

CORE = {"HOOKLINE_DATABASE_URL", "HOOKLINE_BROKER_URL", "HOOKLINE_PUBLIC_URL", "HOOKLINE_HOOK_SECRET", "COMETAPI_KEY"}
REQUIRED_BY_ROLE = {
    "receiver": CORE,
    "worker": CORE,
    "beat": {"HOOKLINE_BROKER_URL", "HOOKLINE_DATABASE_URL", "HOOKLINE_HOOK_SECRET"},  # the lease is in the DB
    "migrate": {"HOOKLINE_DATABASE_URL"},
}
ENV_NAME = re.compile(r"\b(?:HOOKLINE|COMETAPI)_[A-Z0-9_]*[A-Z0-9]\b")


def test_every_setting_name_is_one_hookline_reads() -> None:
    unknown = [f"{where}: {name}" for name, where in names_set()
               if name.startswith(("HOOKLINE_", "COMETAPI_")) and name not in VARIABLES]
    for path in deploy_files():  # docs and comments too: a misspelt name in a README is a bug as well
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            unknown += [f"{rel(path)}:{number}: {name}" for name in ENV_NAME.findall(line) if name not in VARIABLES]
    assert not unknown, "not in shared.config.VARIABLES:\n  " + "\n  ".join(sorted(set(unknown)))


@pytest.mark.parametrize("packaging", ["compose", "k8s"])
def test_core_settings_reach_every_role(packaging: str) -> None:
    envs = compose_envs() if packaging == "compose" else k8s_envs()
    problems = [f"{env.owner}: {p}" for env in envs for p in env.problems]
    roles_seen = {env.role for env in envs}
    problems += [f"no {role} in {packaging}" for role in ("receiver", "worker") if role not in roles_seen]
    for env in envs:
        missing = REQUIRED_BY_ROLE.get(env.role, set()) - set(env.values)
        if missing:
            problems.append(f"{env.owner} ({env.role}) does not set {sorted(missing)}")
    assert not problems, "\n  ".join(["", *problems])


@pytest.mark.parametrize("packaging", ["compose", "k8s"])
def test_settings_load_and_are_shared(packaging: str) -> None:
    """The values parse as hookline parses them, point at shared servers, and the hook secret is one secret."""
    envs = compose_envs() if packaging == "compose" else k8s_envs()
    problems, hook_secrets = [], set()
    for env in envs:
        if env.role not in REQUIRED_BY_ROLE:
            continue
        values = {k: v for k, (v, _) in env.values.items() if k in VARIABLES}
        try:
            settings = load_settings(values)
        except ConfigError as exc:
            problems.append(f"{env.owner}: {exc}")
            continue
        if settings.embedded_broker:
            problems.append(f"{env.owner}: the embedded SQLite broker cannot be shared; set HOOKLINE_BROKER_URL")
        if env.role != "beat" and settings.database_url.startswith("sqlite"):
            problems.append(f"{env.owner}: SQLite cannot be shared; set HOOKLINE_DATABASE_URL to PostgreSQL")
        if env.role in ("receiver", "worker"):
            hook_secrets.add(env.values.get("HOOKLINE_HOOK_SECRET", ("", ""))[0])
    if len(hook_secrets) > 1:
        problems.append("receivers and workers do not share one HOOKLINE_HOOK_SECRET")
    assert not problems, "\n  ".join(["", *problems])

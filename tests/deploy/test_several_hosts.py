"""Deploy files that work on several hosts: the hook secret is set wherever it is required, every receiver and
worker share one artifact store that is not a pod's or container's private disk, S3 credentials come from the
Secret, and the systemd units say what to do about shared storage."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from shared.config import VARIABLES, load_settings, require_shared_secret
from shared.errors import ConfigError
from tests.deploy.deploy_files import COMPOSE, SYSTEMD, compose_services, containers, is_our_compose_service, k8s_docs
from tests.deploy.process_envs import EnvSource, compose_envs, k8s_envs

ROLES = ("receiver", "worker", "beat")


def _settings(env: EnvSource) -> Any:
    return load_settings({k: v for k, (v, _) in env.values.items() if k in VARIABLES})


@pytest.mark.parametrize("packaging", ["compose", "k8s"])
def test_every_receiver_worker_and_beat_would_start(packaging: str) -> None:
    """They refuse to start without HOOKLINE_HOOK_SECRET when the database or broker is a server."""
    problems = []
    for env in compose_envs() if packaging == "compose" else k8s_envs():
        if env.role in ROLES:
            try:
                require_shared_secret(_settings(env))
            except ConfigError as exc:
                problems.append(f"{env.owner}: {exc}")
    assert not problems, "\n  ".join(["", *problems])


@pytest.mark.parametrize("packaging", ["compose", "k8s"])
def test_receivers_and_workers_share_one_artifact_store(packaging: str) -> None:
    envs = [e for e in (compose_envs() if packaging == "compose" else k8s_envs()) if e.role in ("receiver", "worker")]
    stores = {env.owner: env.values.get("HOOKLINE_ARTIFACT_STORE", ("", ""))[0] for env in envs}
    assert all(stores.values()), f"HOOKLINE_ARTIFACT_STORE unset: {stores}"
    assert len(set(stores.values())) == 1, stores
    for env in envs:
        _settings(env)  # parses


def test_kubernetes_keeps_artifacts_in_s3_with_credentials_from_the_secret() -> None:
    problems = []
    secret_keys: set[str] = set()
    for _, doc in k8s_docs():
        if doc.get("kind") == "Secret":
            secret_keys |= set(doc.get("stringData") or {}) | set(doc.get("data") or {})
    for name in ("HOOKLINE_ARTIFACT_STORE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        if name not in secret_keys:
            problems.append(f"{name} is not in the Secret")
    for env in k8s_envs():
        if env.role in ("receiver", "worker"):
            store = env.values.get("HOOKLINE_ARTIFACT_STORE", ("", ""))[0]
            if not store.startswith("s3://"):
                problems.append(f"{env.owner}: artifacts on a pod's disk ({store or 'default file store'})")
    for path, doc in k8s_docs():  # no emptyDir anywhere a file store could point
        for container in containers(doc):
            for mount in container.get("volumeMounts") or []:
                if "artifact" in mount["mountPath"]:
                    volume = next(v for v in doc["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
                    if "emptyDir" in volume:
                        problems.append(f"{path.name}: artifacts mounted on an emptyDir")
    assert not problems, "\n  ".join(["", *problems])


def test_compose_file_store_is_a_named_volume_mounted_by_every_receiver_and_worker() -> None:
    services = {n: s for n, s in compose_services().items() if is_our_compose_service(s)}
    envs = {e.owner.removeprefix("compose service "): e for e in compose_envs()}
    named = set((_compose_volumes() or {}).keys())
    problems = []
    for name, service in services.items():
        env = envs[name]
        if env.role not in ("receiver", "worker"):
            continue
        store = env.values["HOOKLINE_ARTIFACT_STORE"][0]
        if not store.startswith("file://"):
            continue
        root = urlsplit(store).path
        mounts = [str(v).split(":") for v in service.get("volumes") or []]
        if not any(len(m) >= 2 and m[0] in named and root.startswith(m[1]) for m in mounts):
            problems.append(f"{name}: {store} is not on a named volume")
    assert not problems, "\n  ".join(["", *problems])


def _compose_volumes() -> dict[str, Any]:
    from tests.deploy.deploy_files import load_yaml

    (data,) = load_yaml(COMPOSE)
    return data.get("volumes") or {}


def test_systemd_units_say_how_to_share_artifacts() -> None:
    for unit in ("hookline-receiver.service", "hookline-worker@.service"):
        text = (SYSTEMD / unit).read_text()
        assert "HOOKLINE_ARTIFACT_STORE=s3://" in text and "shared filesystem" in text, unit

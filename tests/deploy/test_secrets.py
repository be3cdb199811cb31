"""Secrets come from an env file or a Secret, never inline, and nothing committed under deploy/ looks real."""

from __future__ import annotations

import re

from tests.deploy.deploy_files import (
    COMPOSE,
    DOCKERFILE,
    SECRETS,
    SYSTEMD,
    compose_environment,
    compose_services,
    containers,
    deploy_files,
    env_example_files,
    k8s_data_items,
    k8s_docs,
    line_of,
    parse_env_file,
    rel,
    where,
)
from tests.deploy.process_envs import names_set

SECRETISH_KEY = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD)$")
PLACEHOLDER = re.compile(r"change[-_]?me|replace|placeholder|example|^<.*>$|^\$\{.*\}$", re.IGNORECASE)
REAL_LOOKING_SECRETS = {
    "CometAPI/OpenAI-style key": re.compile(r"sk-[A-Za-z0-9_-]{20,}"),
    "AWS access key id": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}
URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^:/@\s]+:([^@\s]+)@")


def test_secrets_are_never_inline() -> None:
    """COMETAPI_KEY, HOOKLINE_HOOK_SECRET and HOOKLINE_API_TOKEN come from an env file or a Secret, nowhere else."""
    problems = []
    for name, service in compose_services().items():
        problems += [f"{where(COMPOSE, line_of(k))}: {k} set inline for {name}"
                     for k in compose_environment(service) if k in SECRETS]
    for path, doc in k8s_docs():
        if doc.get("kind") == "ConfigMap":
            problems += [f"{where(path, line_of(k))}: {k} in a ConfigMap"
                         for k in doc.get("data") or {} if k in SECRETS]
        for container in containers(doc):
            problems += [f"{where(path, line_of(item['name']))}: {item['name']} as a literal env value"
                         for item in container.get("env") or [] if item["name"] in SECRETS and "value" in item]
    problems += [f"{at}: {name} set inline" for name, at in names_set()
                 if name in SECRETS and at.startswith((rel(SYSTEMD), rel(DOCKERFILE)))]
    assert not problems, "\n  ".join(["", *problems])


def test_no_real_looking_secret_is_committed() -> None:
    found = []
    for path in deploy_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            found += [f"{where(path, number)}: {label}" for label, pattern in REAL_LOOKING_SECRETS.items()
                      if pattern.search(line)]
            found += [f"{where(path, number)}: password in a URL is not a placeholder: {m.group(1)!r}"
                      for m in URL_PASSWORD.finditer(line) if not PLACEHOLDER.search(m.group(1))]
    assert not found, "\n  ".join(["", *found])


def test_secret_values_are_placeholders() -> None:
    """Example env files and the Secret template hold obvious placeholders, never something that could be real."""
    values: list[tuple[str, str, str]] = []
    for path in env_example_files():
        values += [(k, v, where(path, line)) for k, (v, line) in parse_env_file(path).items()]
    for path, doc in k8s_docs():
        if doc.get("kind") == "Secret":  # every entry, `data` and `stringData` both
            values += [(str(k), str(v), where(path, line_of(k))) for k, v in k8s_data_items(doc)]
    bad = [f"{at}: {key}" for key, value, at in values
           if (key in SECRETS or SECRETISH_KEY.search(key) or URL_PASSWORD.search(value))
           and value and not PLACEHOLDER.search(value)]
    assert not bad, "secret values that are not placeholders (use change-me-...):\n  " + "\n  ".join(bad)

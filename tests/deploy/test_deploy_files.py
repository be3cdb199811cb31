"""Static checks on deploy/: the files parse, every command in them is one hookline has, every setting name is one
hookline reads, the core settings reach each role, and nothing secret is committed.

Quick and offline: nothing is built or served. Commands are checked with subprocesses that print `--help`
(``python -m shared.cli.main ...``, ``python -m celery ...``) or import the target (``webhook.wsgi:app``, ``worker.app``),
with a throwaway HOOKLINE_VAR_DIR so no state lands in the repository.
"""

from __future__ import annotations

import atexit
import fnmatch
import functools
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from shared.config import VARIABLES, load_settings
from shared.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SYSTEMD = DEPLOY / "systemd"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
PROCFILE = DEPLOY / "Procfile"

CORE = {"HOOKLINE_DATABASE_URL", "HOOKLINE_BROKER_URL", "HOOKLINE_PUBLIC_URL", "HOOKLINE_HOOK_SECRET", "COMETAPI_KEY"}
REQUIRED_BY_ROLE = {
    "receiver": CORE,
    "worker": CORE,
    "beat": {"HOOKLINE_BROKER_URL"},
    "migrate": {"HOOKLINE_DATABASE_URL"},
}
SECRETS = {"COMETAPI_KEY", "HOOKLINE_HOOK_SECRET", "HOOKLINE_API_TOKEN"}
ENV_NAME = re.compile(r"\b(?:HOOKLINE|COMETAPI)_[A-Z0-9_]*[A-Z0-9]\b")
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
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"}


# --------------------------------------------------------------------------------------------------- deploy files

def _ignored_patterns() -> list[str]:
    gitignore = DEPLOY / ".gitignore"
    if not gitignore.exists():
        return []
    return [line.strip() for line in gitignore.read_text().splitlines() if line.strip() and not line.startswith("#")]


def deploy_files() -> list[Path]:
    """Every committed-looking file under deploy/ (local files that deploy/.gitignore excludes are skipped)."""
    ignored = _ignored_patterns()
    found = []
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(DEPLOY).as_posix()
        if any(fnmatch.fnmatch(path.name, pat) or fnmatch.fnmatch(rel, pat) for pat in ignored):
            continue
        found.append(path)
    return found


def yaml_files() -> list[Path]:
    return [p for p in deploy_files() if p.suffix in (".yml", ".yaml")]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


class _Str(str):
    """A YAML string that remembers its line."""

    line: int = 0


class _Loader(yaml.SafeLoader):
    pass


def _construct_str(loader: _Loader, node: yaml.ScalarNode) -> _Str:
    value = _Str(loader.construct_scalar(node))
    value.line = node.start_mark.line + 1
    return value


_Loader.add_constructor("tag:yaml.org,2002:str", _construct_str)


def load_yaml(path: Path) -> list[Any]:
    return [doc for doc in yaml.load_all(path.read_text(), Loader=_Loader) if doc is not None]


def line_of(*values: Any, default: int = 1) -> int:
    for value in values:
        if isinstance(value, list) and value:
            value = value[0]
        if getattr(value, "line", 0):
            return value.line
    return default


def k8s_docs() -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.y*ml")):
        try:
            docs += [(path, doc) for doc in load_yaml(path) if isinstance(doc, dict)]
        except yaml.YAMLError:
            pass  # reported by test_yaml_parses
    return docs


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


def parse_env_file(path: Path) -> dict[str, tuple[str, int]]:
    """KEY=VALUE lines, as docker compose and systemd's EnvironmentFile= read them; name -> (value, line)."""
    values: dict[str, tuple[str, int]] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        assert sep, f"{rel(path)}:{number}: not KEY=VALUE: {raw!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = (value, number)
    return values


def env_example_files() -> list[Path]:
    return [p for p in deploy_files() if p.name.endswith(".example") or p.name.endswith(".env")]


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


def docker_args(text: str) -> list[str]:
    """CMD/ENTRYPOINT arguments: exec (JSON) form or shell form."""
    if text.startswith("["):
        return list(json.loads(text))
    return shlex.split(text)


def interpolated(value: str) -> str:
    """A compose value with ${...} interpolation replaced by a stand-in, so it can be parsed as a setting."""
    return re.sub(r"\$\{[^}]*\}", "placeholder", str(value)).replace("$$", "$")


# ------------------------------------------------------------------------------------------------------- commands

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


def _as_argv(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


def compose_services() -> dict[str, dict[str, Any]]:
    (data,) = load_yaml(COMPOSE)
    return data["services"]


def is_our_compose_service(service: dict[str, Any]) -> bool:
    image = str(service.get("image", ""))
    return "build" in service or image.rsplit("/", 1)[-1].split(":")[0] == "hookline"


def compose_commands() -> Iterator[Command]:
    for name, service in compose_services().items():
        if not is_our_compose_service(service):
            continue  # redis/postgres: their own images' commands
        entry, cmd = service.get("entrypoint"), service.get("command")
        if entry is None and cmd is None:
            continue  # the image's CMD, checked via the Dockerfile
        argv = _as_argv(entry) + _as_argv(cmd)
        yield Command(rel(COMPOSE), line_of(entry, cmd), tuple(argv), "compose", name)


def k8s_commands() -> Iterator[Command]:
    for path, doc in k8s_docs():
        for container in containers(doc):
            command, args = container.get("command") or [], container.get("args") or []
            if not command and not args:
                continue  # the image's CMD, checked via the Dockerfile
            yield Command(rel(path), line_of(command, args, container.get("name")), tuple(map(str, command + args)),
                          "k8s", f"{doc['metadata']['name']}/{container.get('name')}")


def systemd_commands() -> Iterator[Command]:
    for path in sorted(SYSTEMD.glob("*.service")):
        for section, key, value, line in parse_unit(path):
            if section == "Service" and key in ("ExecStart", "ExecStartPre", "ExecStartPost"):
                value = value.lstrip("@-:+!")
                yield Command(rel(path), line, tuple(shlex.split(value)), "systemd", path.name)


def procfile_entries() -> dict[str, tuple[str, int]]:
    entries = {}
    for number, raw in enumerate(PROCFILE.read_text().splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        name, sep, command = raw.partition(":")
        assert sep and re.fullmatch(r"[A-Za-z0-9_-]+", name), f"{rel(PROCFILE)}:{number}: not `type: command`"
        entries[name] = (command.strip(), number)
    return entries


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
    found: list[Command] = []
    for source in (compose_commands, k8s_commands, systemd_commands, procfile_commands, dockerfile_commands):
        try:
            found += list(source())
        except (OSError, yaml.YAMLError, KeyError, TypeError, AssertionError) as exc:
            found.append(Command(f"<{source.__name__}>", 0, (f"!{type(exc).__name__}: {exc}",), "error"))
    return found


COMMANDS = all_commands()


# Subprocess probes, each run once per distinct question.

@functools.cache
def _scratch() -> Path:
    path = Path(tempfile.mkdtemp(prefix="hookline-deploy-test-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _probe_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOOKLINE_", "COMETAPI_", "CELERY_"))}
    env["HOOKLINE_VAR_DIR"] = str(_scratch() / "var")
    env["HOOKLINE_DATABASE_URL"] = f"sqlite:///{_scratch() / 'probe.db'}"
    env["HOOKLINE_BROKER_URL"] = f"hookline-sqla+sqlite:///{_scratch() / 'broker.db'}"
    _migrate_once(env["HOOKLINE_DATABASE_URL"], env["HOOKLINE_VAR_DIR"])
    return env


@functools.cache
def _migrate_once(database_url: str, var_dir: str) -> None:
    """The receiver refuses a schema that is behind (as in production, after the migrate step): migrate first."""
    from shared import db
    from shared.config import load_settings

    db.upgrade(load_settings({"HOOKLINE_DATABASE_URL": database_url, "HOOKLINE_VAR_DIR": var_dir}))


def _run(*args: str) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=_probe_env(), capture_output=True, text=True,
                          timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


@functools.cache
def hookline_help(path: tuple[str, ...]) -> tuple[int, str]:
    return _run("-m", "shared.cli.main", *path, "--help")


@functools.cache
def celery_help(app: str, sub: str | None) -> tuple[int, str]:
    return _run("-m", "celery", "-A", app, *([sub] if sub else []), "--help")


@functools.cache
def gunicorn_help() -> tuple[int, str]:
    return _run("-m", "gunicorn", "--help")


_IMPORT_PROBE = r"""
import importlib, json, sys
spec, kind = sys.argv[1], sys.argv[2]
out = {}
if kind == "celery":
    from celery import Celery
    from celery.app.utils import find_app
    app = find_app(spec)
    out["ok"] = isinstance(app, Celery)
    out["type"] = type(app).__name__
else:
    module, _, attr = spec.partition(":")
    app = getattr(importlib.import_module(module), attr or "application")
    out["ok"] = callable(app)
    out["type"] = type(app).__name__
    url_map = getattr(app, "url_map", None)
    out["rules"] = sorted(rule.rule for rule in url_map.iter_rules()) if url_map is not None else []
print(json.dumps(out))
"""


@functools.cache
def import_probe(spec: str, kind: str) -> tuple[dict[str, Any] | None, str]:
    code, output = _run("-c", _IMPORT_PROBE, spec, kind)
    if code != 0:
        return None, output.strip().splitlines()[-1] if output.strip() else f"exit {code}"
    # Log lines (stderr) may follow the probe's JSON line: take the JSON one.
    lines = [line for line in output.strip().splitlines() if line.startswith('{"ok"')]
    return json.loads(lines[-1]), ""


def _mentions(help_text: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text) is not None


def _subcommands(help_text: str) -> list[str]:
    _, found, rest = help_text.partition("\nCommands:\n")
    if not found:
        return []
    names = []
    for line in rest.splitlines():
        match = re.match(r"^  (\S+)", line)
        if match:
            names.append(match.group(1))
        elif line.strip() and not line.startswith(" "):
            break
    return names


def _option_name(token: str) -> str:
    return token.split("=", 1)[0]


def check_hookline(args: list[str]) -> list[str]:
    path: list[str] = []
    code, text = hookline_help(())
    if code != 0:
        return [f"`hookline --help` exited {code}: {text[-500:]}"]
    rest = list(args)
    while rest and not rest[0].startswith("-") and _subcommands(text):
        word = rest.pop(0)
        if word not in _subcommands(text):
            where = " ".join(["hookline", *path])
            return [f"`{where}` has no subcommand {word!r} (it has: {', '.join(_subcommands(text))})"]
        path.append(word)
        code, text = hookline_help(tuple(path))
        if code != 0:
            return [f"`hookline {' '.join(path)} --help` exited {code}: {text[-500:]}"]
    if _subcommands(text):
        return [f"`hookline {' '.join(path)}` is a group; name one of its commands: {', '.join(_subcommands(text))}"]
    return [f"`hookline {' '.join(path)}` has no option {_option_name(tok)}"
            for tok in rest if tok.startswith("-") and not _mentions(text, _option_name(tok))]


# gunicorn is not a dependency of the test environment: its command lines are parsed with this table (option ->
# takes a value). When gunicorn is installed, its own --help is consulted as well.
GUNICORN_OPTIONS = {
    "-b": True, "--bind": True, "-w": True, "--workers": True, "-k": True, "--worker-class": True,
    "--threads": True, "-t": True, "--timeout": True, "--graceful-timeout": True, "--keep-alive": True,
    "--max-requests": True, "--max-requests-jitter": True, "--log-level": True, "--error-logfile": True,
    "--forwarded-allow-ips": True, "--worker-tmp-dir": True, "-c": True, "--config": True, "--chdir": True,
    "-n": True, "--name": True, "--preload": False, "--capture-output": False,
}
APP_SPEC = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


def check_gunicorn(args: list[str]) -> list[str]:
    problems, positional, used = [], [], []
    tokens = list(args)
    while tokens:
        token = tokens.pop(0)
        if not token.startswith("-"):
            positional.append(token)
            continue
        name = _option_name(token)
        used.append(name)
        if name == "--access-logfile":
            problems.append("--access-logfile: gunicorn's access log would record the capability token of every "
                            "callback URL (/hooks/cometapi/<job>/<attempt>/<token>); leave it off")
            takes_value = True
        elif name not in GUNICORN_OPTIONS:
            problems.append(f"gunicorn option {name} is not one this test knows; add it to GUNICORN_OPTIONS if real")
            continue
        else:
            takes_value = GUNICORN_OPTIONS[name]
        if takes_value and "=" not in token and not (len(name) == 2 and len(token) > 2):
            if not tokens:
                problems.append(f"{name} needs a value")
            else:
                tokens.pop(0)
    if len(positional) != 1 or not APP_SPEC.fullmatch(positional[0]):
        return [*problems, f"expected exactly one WSGI app `module:attribute`, got {positional}"]
    if importlib.util.find_spec("gunicorn") is not None:
        code, text = gunicorn_help()
        problems += [f"gunicorn has no option {name}" for name in used if code == 0 and not _mentions(text, name)]
    found, error = import_probe(positional[0], "wsgi")
    if found is None:
        return [*problems, f"WSGI app {positional[0]} does not import: {error}"]
    if not found["ok"]:
        problems.append(f"{positional[0]} is a {found['type']}, not a WSGI callable")
    return problems


CELERY_GLOBAL_OPTIONS = {  # option -> takes a value; checked against `celery --help` too
    "-A": True, "--app": True, "-b": True, "--broker": True, "--result-backend": True, "--loader": True,
    "--config": True, "--workdir": True, "-C": False, "--no-color": False, "-q": False, "--quiet": False,
}
CELERY_SUBCOMMANDS = {"worker", "beat", "flower"}
FLOWER_OPTIONS = {  # Flower 2 (tornado) options; dashes and underscores are interchangeable
    "address", "port", "unix_socket", "auth", "basic_auth", "auth_provider", "broker_api", "certfile", "keyfile",
    "ca_certs", "conf", "db", "debug", "enable_events", "format_task", "inspect_timeout", "max_workers", "max_tasks",
    "natural_time", "persistent", "state_save_interval", "purge_offline_workers", "url_prefix", "xheaders",
    "auto_refresh", "cookie_secret", "tasks_columns", "task_runtime_metric_buckets", "logging",
}


def check_celery(args: list[str]) -> list[str]:
    problems: list[str] = []
    app = None
    tokens = list(args)
    while tokens and tokens[0].startswith("-"):
        token = tokens.pop(0)
        name = _option_name(token)
        if name not in CELERY_GLOBAL_OPTIONS:
            problems.append(f"celery option {name} is not a known global option")
            continue
        value = token.split("=", 1)[1] if "=" in token else (tokens.pop(0) if CELERY_GLOBAL_OPTIONS[name] else None)
        if name in ("-A", "--app"):
            app = value
    if app is None:
        return [*problems, "celery without -A <app>: use `celery -A worker.app ...`"]
    if not tokens:
        return [*problems, "celery without a subcommand"]
    sub, rest = tokens[0], tokens[1:]
    if sub not in CELERY_SUBCOMMANDS:
        known = ", ".join(sorted(CELERY_SUBCOMMANDS))
        problems.append(f"celery subcommand {sub!r} is not one hookline deploys ({known})")
    found, error = import_probe(app, "celery")
    if found is None:
        return [*problems, f"celery app {app} does not import: {error}"]
    if not found["ok"]:
        problems.append(f"celery app {app} is a {found['type']}, not a Celery app")
    options = [_option_name(t) for t in rest if t.startswith("-")]
    if sub == "flower":
        for name in options:
            if name in CELERY_GLOBAL_OPTIONS:
                problems.append(f"{name} after `flower` is ignored by Flower 2: celery options go before the "
                                f"subcommand (`celery -A {app} {name}=... flower`)")
            elif name.lstrip("-").replace("-", "_") not in FLOWER_OPTIONS:
                problems.append(f"flower has no option {name}")
    elif sub in CELERY_SUBCOMMANDS:
        code, text = celery_help(app, sub)
        if code != 0:
            problems.append(f"`celery -A {app} {sub} --help` exited {code}: {text[-500:]}")
        else:
            problems += [f"`celery {sub}` has no option {name}" for name in options if not _mentions(text, name)]
    return problems


def check_command(command: Command) -> list[str]:
    if not command.argv or command.kind == "error":
        return [f"could not extract commands: {command.argv}"]
    program, args = os.path.basename(command.argv[0]), list(command.argv[1:])
    if program == "hookline":
        return check_hookline(args)
    if program == "gunicorn":
        return check_gunicorn(args)
    if program == "celery":
        return check_celery(args)
    return [f"{program!r} is not a command hookline has (expected hookline, gunicorn webhook.wsgi:app or "
            "celery -A worker.app worker|beat|flower)"]


def role_of(argv: tuple[str, ...] | list[str]) -> str:
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


# ---------------------------------------------------------------------------------------------- 1. YAML parses

@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: p.relative_to(DEPLOY).as_posix())
def test_yaml_parses(path: Path) -> None:
    docs = list(yaml.safe_load_all(path.read_text()))
    assert [d for d in docs if d is not None], f"{rel(path)} is empty"


def test_the_expected_files_exist() -> None:
    expected = ["Dockerfile", "Dockerfile.dockerignore", "docker-compose.yml", ".env.example", "Procfile",
                "README.md", "systemd/hookline-receiver.service", "systemd/hookline-worker@.service",
                "systemd/hookline-beat.service"]
    missing = [name for name in expected if not (DEPLOY / name).is_file()]
    assert not missing, f"missing in deploy/: {missing}"
    assert len(list(K8S.glob("*.yaml"))) >= 5


# --------------------------------------------------------------------------------- 2. every command is real

@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.where)
def test_command_is_one_hookline_has(command: Command) -> None:
    problems = check_command(command)
    assert not problems, f"{command}\n  " + "\n  ".join(problems)


def test_commands_found_in_every_packaging() -> None:
    roles: dict[str, set[str]] = {}
    for command in COMMANDS:
        roles.setdefault(command.kind, set()).add(role_of(command.argv))
    for kind in ("compose", "k8s", "systemd", "procfile"):
        assert {"receiver", "worker", "beat", "migrate"} <= roles.get(kind, set()), (
            f"{kind}: expected receiver, worker, beat and migrate commands, found {sorted(roles.get(kind, []))}")
    assert roles.get("dockerfile") == {"receiver"}, "the Dockerfile's CMD should run the receiver under gunicorn"


def test_receiver_serves_healthz() -> None:
    found, error = import_probe("webhook.wsgi:app", "wsgi")
    assert found is not None, error
    assert "/healthz" in found["rules"], f"webhook.wsgi:app has no /healthz route: {found['rules']}"


# The checker itself must reject what it should, or test_command_is_one_hookline_has proves nothing.
REJECTED = [
    (["hookline", "wrker"], "no subcommand 'wrker'"),
    (["hookline", "worker", "--processes", "4"], "no option --processes"),
    (["hookline", "db"], "is a group"),
    (["hookline", "db", "migrate"], "no subcommand 'migrate'"),
    (["gunicorn", "-b", "0.0.0.0:8000", "webhook.wsgi:nope"], "does not import"),
    (["gunicorn", "-b", "0.0.0.0:8000", "--access-logfile", "-", "webhook.wsgi:app"], "capability token"),
    (["celery", "-A", "worker.nope", "worker"], "does not import"),
    (["celery", "-A", "worker.app", "purge"], "not one hookline deploys"),
    (["celery", "-A", "worker.app", "worker", "--concurency", "2"], "no option --concurency"),
    (["celery", "-A", "worker.app", "flower", "--broker=redis://x:6379/0"], "ignored by Flower 2"),
    (["python", "-m", "http.server"], "not a command hookline has"),
]


@pytest.mark.parametrize(("argv", "complaint"), REJECTED, ids=[shlex.join(argv) for argv, _ in REJECTED])
def test_checker_rejects(argv: list[str], complaint: str) -> None:
    problems = check_command(Command("example", 1, tuple(argv), "example"))
    assert any(complaint in p for p in problems), problems


# -------------------------------------------------------------------------- 3. setting names and the core ones

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
        argv = _as_argv(service.get("entrypoint")) + _as_argv(service.get("command"))
        env = EnvSource(f"compose service {name}", role_of(argv))
        env_files = service.get("env_file") or []
        for item in [env_files] if isinstance(env_files, (str, dict)) else env_files:
            file = DEPLOY / (item["path"] if isinstance(item, dict) else item)
            example = file.with_name(file.name + ".example")
            if not example.exists():
                env.problems.append(f"env_file {file.name}: commit {rel(example)} to document it")
            source = file if file.exists() and file.name not in _ignored_patterns() else example
            if source.exists():
                for key, (value, line) in parse_env_file(source).items():
                    env.values[key] = (value, f"{rel(source)}:{line}")
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        for key, value in environment.items():
            env.values[str(key)] = (interpolated(value or ""), f"{rel(COMPOSE)}:{line_of(key)}")
        envs.append(env)
    return envs


def k8s_envs() -> list[EnvSource]:
    maps: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
    for path, doc in k8s_docs():
        if doc.get("kind") in ("ConfigMap", "Secret"):
            data = dict(doc.get("data") or {})
            data.update(doc.get("stringData") or {})
            maps[(doc["kind"], doc["metadata"]["name"])] = {
                str(k): (str(v), f"{rel(path)}:{line_of(k)}") for k, v in data.items()}
    envs = []
    for path, doc in k8s_docs():
        for container in containers(doc):
            argv = container_argv(container)
            env = EnvSource(f"{rel(path)} {doc['kind']} {doc['metadata']['name']}/{container['name']}", role_of(argv))
            for ref in container.get("envFrom") or []:
                for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if key in ref:
                        target = maps.get((kind, ref[key]["name"]))
                        if target is None:
                            env.problems.append(f"envFrom {kind} {ref[key]['name']!r} is not defined in deploy/k8s")
                        else:
                            env.values.update(target)
            for item in container.get("env") or []:
                where = f"{rel(path)}:{line_of(item['name'])}"
                env.values[str(item["name"])] = (str(item.get("value", "from-ref")), where)
            envs.append(env)
    return envs


def names_set() -> list[tuple[str, str]]:
    """(name, file:line) for every variable the deploy files set, in every place they can set one."""
    found = []
    for env in compose_envs() + k8s_envs():
        found += [(name, where) for name, (_, where) in env.values.items()]
    for path in env_example_files():
        found += [(name, f"{rel(path)}:{line}") for name, (_, line) in parse_env_file(path).items()]
    for path in sorted(SYSTEMD.glob("*.service")):
        for _, key, value, line in parse_unit(path):
            if key == "Environment":
                found += [(item.partition("=")[0], f"{rel(path)}:{line}") for item in shlex.split(value)]
    for word, args, line in parse_dockerfile(DOCKERFILE):
        if word == "ENV":
            found += [(item.partition("=")[0], f"{rel(DOCKERFILE)}:{line}") for item in shlex.split(args)]
    return found


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


def test_secrets_are_never_inline() -> None:
    """COMETAPI_KEY, HOOKLINE_HOOK_SECRET and HOOKLINE_API_TOKEN come from an env file or a Secret, nowhere else."""
    problems = []
    for name, service in compose_services().items():
        environment = service.get("environment") or {}
        keys = [i.partition("=")[0] for i in environment] if isinstance(environment, list) else list(environment)
        problems += [f"{rel(COMPOSE)}:{line_of(k)}: {k} set inline for {name}" for k in keys if k in SECRETS]
    for path, doc in k8s_docs():
        if doc.get("kind") == "ConfigMap":
            problems += [f"{rel(path)}:{line_of(k)}: {k} in a ConfigMap" for k in doc.get("data") or {} if k in SECRETS]
        for container in containers(doc):
            problems += [f"{rel(path)}:{line_of(item['name'])}: {item['name']} as a literal env value"
                         for item in container.get("env") or [] if item["name"] in SECRETS and "value" in item]
    problems += [f"{where}: {name} set inline" for name, where in names_set()
                 if name in SECRETS and (where.startswith(rel(SYSTEMD)) or where.startswith(rel(DOCKERFILE)))]
    assert not problems, "\n  ".join(["", *problems])


# --------------------------------------------------------------------------------------------- 4. no real secrets

def test_no_real_looking_secret_is_committed() -> None:
    found = []
    for path in deploy_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            found += [f"{rel(path)}:{number}: {label}" for label, pattern in REAL_LOOKING_SECRETS.items()
                      if pattern.search(line)]
            found += [f"{rel(path)}:{number}: password in a URL is not a placeholder: {m.group(1)!r}"
                      for m in URL_PASSWORD.finditer(line) if not PLACEHOLDER.search(m.group(1))]
    assert not found, "\n  ".join(["", *found])


def test_secret_values_are_placeholders() -> None:
    """Example env files and the Secret template hold obvious placeholders, never something that could be real."""
    values: list[tuple[str, str, str]] = []
    for path in env_example_files():
        values += [(k, v, f"{rel(path)}:{line}") for k, (v, line) in parse_env_file(path).items()]
    for path, doc in k8s_docs():
        if doc.get("kind") == "Secret":
            data = dict(doc.get("stringData") or {})
            data.update(doc.get("data") or {})
            values += [(str(k), str(v), f"{rel(path)}:{line_of(k)}") for k, v in data.items()]
    bad = [f"{where}: {key}" for key, value, where in values
           if (key in SECRETS or SECRETISH_KEY.search(key) or URL_PASSWORD.search(value))
           and value and not PLACEHOLDER.search(value)]
    assert not bad, "secret values that are not placeholders (use change-me-...):\n  " + "\n  ".join(bad)


# ----------------------------------------------------------------------------------------- shape of each packaging

def test_dockerfile() -> None:
    instructions = parse_dockerfile(DOCKERFILE)
    stages = [args for word, args, _ in instructions if word == "FROM"]
    assert stages and all(s.split()[0] == "python:3.11-slim" for s in stages), stages
    final = instructions[max(i for i, (w, _, _) in enumerate(instructions) if w == "FROM"):]
    users = [args for word, args, _ in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must run as a non-root user"
    runs = " ".join(args for word, args, _ in instructions if word == "RUN")
    assert "pip install" in runs
    (command,) = list(dockerfile_commands())
    assert list(command.argv) == ["gunicorn", "-b", "0.0.0.0:8000", "-w", "4", "webhook.wsgi:app"]


def test_dockerfile_extras_exist_in_pyproject() -> None:
    """`pip install .[x]` only warns about an unknown extra: check that every extra the image asks for exists."""
    runs = " ".join(args for word, args, _ in parse_dockerfile(DOCKERFILE) if word == "RUN")
    extras = {e.strip() for group in re.findall(r"\.\[([^\]]+)\]", runs) for e in group.split(",")}
    assert "postgres" in extras, "the image needs psycopg: pip install .[postgres]"
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get("optional-dependencies", {})
    missing = sorted(extras - set(declared))
    assert not missing, (f"deploy/Dockerfile installs extras {missing} that pyproject.toml does not declare; add e.g. "
                         '[project.optional-dependencies] postgres = ["psycopg[binary]>=3.1"]')


def test_dockerignore_keeps_local_state_out() -> None:
    patterns = [line.strip() for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "allow-list: start by excluding everything"
    allowed = {p[1:] for p in patterns if p.startswith("!")}
    assert {"pyproject.toml", "shared", "worker", "webhook"} <= allowed, allowed
    assert not allowed & {".env", "var", ".venv", "deploy"}, allowed


def test_compose_shape() -> None:
    services = compose_services()
    problems = []
    redis_cmd = " ".join(_as_argv(services["redis"].get("command")))
    if "--appendonly yes" not in redis_cmd:
        problems.append("redis: run with AOF persistence (redis-server --appendonly yes)")
    if not str(services["postgres"].get("image", "")).startswith("postgres:15"):
        problems.append("postgres: image postgres:15")
    health = {name: " ".join(_as_argv(s.get("healthcheck", {}).get("test"))) for name, s in services.items()}
    for name, needle in (("redis", "redis-cli ping"), ("postgres", "pg_isready"), ("receiver", "/healthz")):
        if needle not in health.get(name, ""):
            problems.append(f"{name}: healthcheck should use {needle}")
    by_role: dict[str, list[str]] = {}
    for name, service in services.items():
        if is_our_compose_service(service):
            argv = _as_argv(service.get("entrypoint")) + _as_argv(service.get("command"))
            by_role.setdefault(role_of(argv), []).append(name)
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


def _k8s_by_kind() -> dict[str, list[dict[str, Any]]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for _, doc in k8s_docs():
        by_kind.setdefault(str(doc.get("kind")), []).append(doc)
    return by_kind


def test_k8s_shape() -> None:
    by_kind = _k8s_by_kind()
    problems = []
    for _, doc in k8s_docs():
        if doc.get("kind") != "Kustomization" and not (doc.get("apiVersion") and doc.get("metadata", {}).get("name")):
            problems.append(f"{doc.get('kind')}: apiVersion and metadata.name are required")
    deployments = {role_of(container_argv(containers(d)[0])): d for d in by_kind.get("Deployment", [])}
    if set(deployments) != {"receiver", "worker", "beat"}:
        problems.append(f"Deployments for receiver, worker and beat, found {sorted(deployments)}")
    for role, d in deployments.items():
        if d["spec"]["selector"]["matchLabels"].items() - d["spec"]["template"]["metadata"]["labels"].items():
            problems.append(f"{d['metadata']['name']}: selector does not match the pod labels")
    beat = deployments.get("beat")
    if beat and (beat["spec"].get("replicas") != 1 or beat["spec"].get("strategy", {}).get("type") != "Recreate"):
        problems.append("beat: replicas 1 and strategy Recreate")
    receiver = deployments.get("receiver")
    if receiver:
        pod = receiver["spec"]["template"]
        container = pod["spec"]["containers"][0]
        ports = {key for p in container.get("ports", []) for key in (p.get("name"), p["containerPort"])}
        for probe in ("readinessProbe", "livenessProbe"):
            get = container.get(probe, {}).get("httpGet", {})
            if get.get("path") != "/healthz" or get.get("port") not in ports:
                problems.append(f"receiver: {probe} should GET /healthz on the container's port")
        services = [s for s in by_kind.get("Service", [])
                    if s["spec"].get("selector") and s["spec"]["selector"].items() <= pod["metadata"]["labels"].items()]
        if len(services) != 1:
            problems.append("one Service selecting the receiver pods")
        else:
            service = services[0]
            service_ports = {key for p in service["spec"]["ports"] for key in (p.get("name"), p["port"])}
            for ingress in by_kind.get("Ingress", []) or [{}]:
                backends = [path["backend"]["service"] for rule in ingress.get("spec", {}).get("rules", [])
                            for path in rule["http"]["paths"]]
                if not backends or any(b["name"] != service["metadata"]["name"]
                                       or (b["port"].get("name") or b["port"].get("number")) not in service_ports
                                       for b in backends):
                    problems.append("an Ingress routing to the receiver Service")
    hpas = by_kind.get("HorizontalPodAutoscaler", [])
    worker = deployments.get("worker")
    if len(hpas) != 1 or not worker:
        problems.append("one HorizontalPodAutoscaler for the workers")
    else:
        hpa = hpas[0]
        if hpa["apiVersion"] != "autoscaling/v2" or hpa["spec"]["scaleTargetRef"]["name"] != worker["metadata"]["name"]:
            problems.append("HPA: autoscaling/v2, targeting the worker Deployment")
        if [m.get("resource", {}).get("name") for m in hpa["spec"]["metrics"]] != ["cpu"]:
            problems.append("HPA: scale on CPU")
        if not worker["spec"]["template"]["spec"]["containers"][0].get("resources", {}).get("requests", {}).get("cpu"):
            problems.append("worker: a CPU request, or the HPA has nothing to measure against")
    jobs = [j for j in by_kind.get("Job", []) if role_of(container_argv(containers(j)[0])) == "migrate"]
    if len(jobs) != 1:
        problems.append("one migration Job running `hookline db upgrade`")
    secret_keys = {k for s in by_kind.get("Secret", []) for k in [*(s.get("data") or {}), *(s.get("stringData") or {})]}
    if not {"COMETAPI_KEY", "HOOKLINE_HOOK_SECRET"} <= secret_keys:
        problems.append("a Secret template with COMETAPI_KEY and HOOKLINE_HOOK_SECRET")
    if len(by_kind.get("ConfigMap", [])) != 1:
        problems.append("one ConfigMap for the other settings")
    images = {c.get("image") for _, doc in k8s_docs() for c in containers(doc)}
    if len(images) != 1:
        problems.append(f"every container should run the one hookline image, found {sorted(map(str, images))}")
    assert not problems, "\n  ".join(["", *problems])


def test_k8s_public_url_matches_ingress_host() -> None:
    by_kind = _k8s_by_kind()
    (configmap,) = by_kind["ConfigMap"]
    public = urlsplit(configmap["data"]["HOOKLINE_PUBLIC_URL"])
    hosts = {rule.get("host") for ingress in by_kind.get("Ingress", []) for rule in ingress["spec"]["rules"]}
    assert public.hostname in hosts, f"HOOKLINE_PUBLIC_URL host {public.hostname} is not an Ingress host {hosts}"
    assert public.scheme == "https"


def test_kustomization_lists_real_files_and_skips_the_secret_template() -> None:
    (kustomization,) = load_yaml(K8S / "kustomization.yaml")
    resources = kustomization["resources"]
    missing = [r for r in resources if not (K8S / r).is_file()]
    assert not missing, f"kustomization.yaml lists missing files: {missing}"
    secret_files = {p.name for p, doc in k8s_docs() if doc.get("kind") == "Secret"}
    assert not secret_files & set(resources), "apply -k must never overwrite the real Secret with the template"


def test_systemd_units() -> None:
    units = {p.name: parse_unit(p) for p in SYSTEMD.glob("*.service")}
    assert {"hookline-receiver.service", "hookline-worker@.service", "hookline-beat.service"} <= set(units)
    problems = []
    for name, entries in units.items():
        keys = {(section, key): value for section, key, value, _ in entries}
        if keys.get(("Service", "EnvironmentFile")) != "/etc/hookline/env":
            problems.append(f"{name}: EnvironmentFile=/etc/hookline/env")
        if keys.get(("Service", "User"), "root") == "root":
            problems.append(f"{name}: run as the hookline user, not root")
    exec_start = {name: dict(((s, k), v) for s, k, v, _ in entries).get(("Service", "ExecStart"), "")
                  for name, entries in units.items()}
    if "%i" not in exec_start.get("hookline-worker@.service", ""):
        problems.append("hookline-worker@.service: use the instance (%i) in the worker's --name")
    if role_of(shlex.split(exec_start.get("hookline-receiver.service", ""))) != "receiver":
        problems.append("hookline-receiver.service: gunicorn webhook.wsgi:app")
    assert not problems, "\n  ".join(["", *problems])


def test_procfile() -> None:
    entries = procfile_entries()
    assert set(entries) == {"web", "worker", "beat", "release"}, sorted(entries)
    roles = {name: role_of(shlex.split(command)) for name, (command, _) in entries.items()}
    assert roles == {"web": "receiver", "worker": "worker", "beat": "beat", "release": "migrate"}, roles

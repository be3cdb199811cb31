"""Is a deploy file's command one hookline has? ``check_command`` answers with a list of problems (empty: yes).

Commands are checked with subprocesses that print `--help` (``python -m shared.cli ...``,
``python -m celery ...``) or import the target (``webhook.wsgi:app``, ``worker.app``), with a throwaway
HOOKLINE_VAR_DIR so no state lands in the repository. Each subprocess runs once per distinct question.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from shared.config import load_settings
from tests.deploy.deploy_commands import Command
from tests.deploy.deploy_files import ROOT

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

# ------------------------------------------------------------------------------------------ subprocess probes


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

    db.upgrade(load_settings({"HOOKLINE_DATABASE_URL": database_url, "HOOKLINE_VAR_DIR": var_dir}))


@functools.cache
def run_python(*args: str) -> tuple[int, str]:
    """``python *args`` in the probe environment: (exit code, stdout + stderr). Cached: each question is asked once."""
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=_probe_env(), capture_output=True, text=True,
                          timeout=120, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def hookline_help(path: tuple[str, ...]) -> tuple[int, str]:
    return run_python("-m", "shared.cli", *path, "--help")


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


def import_probe(spec: str, kind: str) -> tuple[dict[str, Any] | None, str]:
    """Import a WSGI app (``kind="wsgi"``) or a Celery app (``"celery"``) in a subprocess: (facts, error)."""
    code, output = run_python("-c", _IMPORT_PROBE, spec, kind)
    if code != 0:
        return None, output.strip().splitlines()[-1] if output.strip() else f"exit {code}"
    # Log lines (stderr) may follow the probe's JSON line: take the JSON one.
    lines = [line for line in output.strip().splitlines() if line.startswith('{"ok"')]
    return json.loads(lines[-1]), ""


# ------------------------------------------------------------------------------------------------- checkers


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
            at = " ".join(["hookline", *path])
            return [f"`{at}` has no subcommand {word!r} (it has: {', '.join(_subcommands(text))})"]
        path.append(word)
        code, text = hookline_help(tuple(path))
        if code != 0:
            return [f"`hookline {' '.join(path)} --help` exited {code}: {text[-500:]}"]
    if _subcommands(text):
        return [f"`hookline {' '.join(path)}` is a group; name one of its commands: {', '.join(_subcommands(text))}"]
    return [f"`hookline {' '.join(path)}` has no option {_option_name(tok)}"
            for tok in rest if tok.startswith("-") and not _mentions(text, _option_name(tok))]


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
        code, text = run_python("-m", "gunicorn", "--help")
        problems += [f"gunicorn has no option {name}" for name in used if code == 0 and not _mentions(text, name)]
    found, error = import_probe(positional[0], "wsgi")
    if found is None:
        return [*problems, f"WSGI app {positional[0]} does not import: {error}"]
    if not found["ok"]:
        problems.append(f"{positional[0]} is a {found['type']}, not a WSGI callable")
    return problems


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
        code, text = run_python("-m", "celery", "-A", app, sub, "--help")
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
    return [(f"{program!r} is not a command hookline has (expected hookline, gunicorn webhook.wsgi:app or "
             "celery -A worker.app worker|beat|flower)")]

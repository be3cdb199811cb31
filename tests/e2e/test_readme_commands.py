"""Every `sh` block of README.md, run as written against `hookline up --sandbox` (issue 14, finding 9).

The README's examples are what a new user types first, so they must work on the stack the README tells them to
start. The blocks are read from the README itself: an example added there is run here without touching this file.

Not every block can run in a test. A block is skipped only when **all** its commands start with a word in
``SKIPPED`` below (the reason is stated beside each); a block that mixes those with other commands fails, asking for
it to be split. Blocks fenced as ``text`` (the command reference with its ``<placeholders>``, a bulk file) are not
command blocks. `hookline up …` lines are started by this test itself, on free ports, before the other blocks run.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from shared.cli.stack import free_port, wait_http
from tests.conftest import require_binary

README = Path(__file__).resolve().parents[2] / "README.md"
COMMAND_FENCES = ("sh", "bash", "shell", "console")
# First words of commands this test cannot run, and why. Keep it short: each entry hides examples from the test.
SKIPPED: dict[str, str] = {
    "make": "`make demo` / `make test` build a venv and run the whole demo or suite (minutes); the demo is "
            "`hookline demo`, tested by tests/e2e, and `make test` is CI itself",
    "apt-get": "installs system packages as root",
    "sudo": "needs root",
    "docker": "needs a Docker daemon",
    "kubectl": "needs a Kubernetes cluster",
}
STARTED_HERE = "hookline up"
BLOCK_TIMEOUT = 600.0  # seconds for one block (the quick start runs the long-song pipeline on 70 s clips)
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.M | re.S)


def command_blocks() -> list[tuple[int, str]]:
    """(line number, body) of every fenced block whose language is a shell."""
    text = README.read_text()
    return [(text[: m.start()].count("\n") + 1, m.group(2)) for m in FENCE.finditer(text)
            if m.group(1) in COMMAND_FENCES]


def commands(block: str) -> list[str]:
    """The block's commands: continuation lines joined, blank lines and comments left out."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def first_word(command: str) -> str:
    words = shlex.split(command, comments=True)
    while words and re.fullmatch(r"\w+=.*", words[0]):  # VAR=value command
        words = words[1:]
    return words[0] if words else ""


def verdict(block: str) -> str | None:
    """Why the block is not run, or None to run it."""
    found = commands(block)
    if found and all(command.startswith(STARTED_HERE) for command in found):
        return "started by this test"
    skipped = [command for command in found if first_word(command) in SKIPPED]
    if skipped and len(skipped) == len(found):
        return "; ".join(sorted({SKIPPED[first_word(command)] for command in skipped}))
    assert not skipped, f"a README block mixes commands the test skips with others; split it: {skipped}"
    return None


def test_the_readme_has_runnable_blocks_and_a_documented_skip_list() -> None:
    blocks = command_blocks()
    verdicts = [verdict(body) for _, body in blocks]
    assert any(v is None for v in verdicts), "no runnable sh block in README.md"
    assert any(v == "started by this test" for v in verdicts), "the README should show `hookline up --sandbox`"
    skipped = [(line, v) for (line, _), v in zip(blocks, verdicts, strict=True)
               if v not in (None, "started by this test")]
    assert len(skipped) <= 2, f"more README blocks skipped than expected: {skipped}"


def test_every_readme_command_block_runs_against_up_sandbox(tmp_path: Path) -> None:
    require_binary("jq")
    runnable = [(line, body) for line, body in command_blocks() if verdict(body) is None]
    port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOOKLINE_", "COMETAPI_", "SANDBOX_"))}
    env.update({"HOOKLINE_VAR_DIR": str(tmp_path / "var"), "HOOKLINE_PORT": str(port),
                "HOOKLINE_RECONCILE_INTERVAL": "2", "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}"})
    up = subprocess.Popen([sys.executable, "-m", "shared.cli", "up", "--sandbox", "--sandbox-port", str(sandbox_port)],
                          env=env, cwd=tmp_path, stdout=(tmp_path / "up.log").open("w"), stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=90, proc=up)
        for line, body in runnable:
            script = "\n".join(c for c in body.splitlines() if not c.strip().startswith(STARTED_HERE))
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, cwd=tmp_path,
                                  capture_output=True, text=True, timeout=BLOCK_TIMEOUT)
            assert done.returncode == 0, (f"README.md block at line {line} failed ({done.returncode}):\n{script}\n"
                                          f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}")
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
    log = (tmp_path / "up.log").read_text()
    assert f"callbacks to http://127.0.0.1:{port}" in log, log[-2000:]  # up --sandbox runs with callbacks


@pytest.mark.parametrize(("block", "expected"), [
    ("make demo\nmake test  # lint, then the suite", "skipped"),
    ("hookline up --sandbox", "started by this test"),
    ("hookline costs\nX=1 hookline status a", None),
])
def test_the_skip_rules(block: str, expected: str | None) -> None:
    found = verdict(block)
    assert (found if expected != "skipped" else ("skipped" if found and "make" in found else found)) == expected

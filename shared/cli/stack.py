"""Start and stop the real processes of a hookline stack: sandbox, receiver, Celery worker(s), beat.

One implementation serves ``hookline up``, ``hookline demo`` and the end-to-end tests.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar, cast

import requests

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], T | None], timeout: float = 5.0, interval: float = 0.05,
               what: str = "condition") -> T:
    """Poll ``condition()`` until it returns something truthy, and return that; TimeoutError after ``timeout``.

    The one wait of the stack, the tests and the benchmarks.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached: timed out after {timeout:g}s")
        time.sleep(interval)


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


HOOKLINE = [sys.executable, "-m", "shared.cli"]


@dataclass
class Stack:
    """A set of hookline processes sharing one environment (database, broker, secrets)."""

    env: dict[str, str]
    log_dir: Path
    sandbox_port: int | None = None  # None: no sandbox; the upstream is whatever COMETAPI_BASE_URL says
    sandbox_args: list[str] = field(default_factory=list)
    receiver_port: int | None = None
    workers: int = 1
    worker_concurrency: int = 2
    beat: bool = True
    quiet: bool = True
    cwd: Path | None = None  # working directory of every process (one per "host" in the two-host test)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def sandbox_url(self) -> str | None:
        return f"http://127.0.0.1:{self.sandbox_port}" if self.sandbox_port else None

    @property
    def receiver_url(self) -> str | None:
        return f"http://127.0.0.1:{self.receiver_port}" if self.receiver_port else None

    def child_env(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        if self.sandbox_url:
            env["COMETAPI_BASE_URL"] = self.sandbox_url
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        out: IO[bytes] | int | None = None
        if self.quiet:
            log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
            self._logs.append(log)
            out = log
        proc = subprocess.Popen(
            args, env=self.child_env(), stdout=out, stderr=subprocess.STDOUT if self.quiet else None,
            start_new_session=True, cwd=self.cwd,
        )
        self.procs[name] = proc
        return proc

    def start(self) -> Stack:
        if self.sandbox_port:
            proc = self._spawn("sandbox", [*HOOKLINE, "sandbox", "--port", str(self.sandbox_port), *self.sandbox_args])
            wait_http(f"{self.sandbox_url}/_sandbox/requests", proc=proc)
        if self.receiver_port:
            self.start_receiver()
        for n in range(self.workers):
            self.start_worker(f"worker{n}")
        if self.beat:
            self._spawn("beat", [*HOOKLINE, "beat"])
        return self

    def start_receiver(self, name: str = "receiver", port: int | None = None) -> subprocess.Popen[bytes]:
        port = port or self.receiver_port
        proc = self._spawn(name, [*HOOKLINE, "receiver", "--port", str(port)])
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        return proc

    def restart(self, name: str) -> None:
        """SIGKILL a component and start it again with the same arguments (a crash and a supervisor restart)."""
        args = [os.fsdecode(arg) for arg in cast("list[str | bytes]", self.procs[name].args)]
        self.kill(name)
        proc = self._spawn(name, args)
        if name.startswith("receiver"):
            port = args[args.index("--port") + 1]
            wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        return self._spawn(name, [*HOOKLINE, "worker", "--concurrency", str(self.worker_concurrency), "--name", name])

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in self._logs:
            log.close()
        self._logs.clear()

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

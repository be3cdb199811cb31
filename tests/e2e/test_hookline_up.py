"""`hookline up --sandbox`: one command runs the whole stack; a job goes through; Ctrl-C stops every process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import requests

from shared.cli.stack import free_port, wait_http, wait_until


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie still answers kill(0); it is gone for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _descendants(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        child, parent = map(int, line.split())
        children.setdefault(parent, []).append(child)
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def test_up_runs_a_job_and_ctrl_c_stops_everything(tmp_path):
    port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOOKLINE_", "COMETAPI_"))}
    env.update({"HOOKLINE_VAR_DIR": str(tmp_path / "var"), "HOOKLINE_PORT": str(port),
                "HOOKLINE_RECONCILE_INTERVAL": "1"})
    proc = subprocess.Popen([sys.executable, "-m", "shared.cli", "up", "--sandbox",
                             "--sandbox-port", str(sandbox_port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=proc)
        resp = requests.post(f"http://127.0.0.1:{port}/v1/jobs",
                             json={"operation": "lyrics", "params": {"prompt": "up"}},
                             timeout=10)
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["id"]
        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/v1/jobs/{job_id}", timeout=10).json()["status"]
                   == "succeeded", 60, 0.3, "the job finished under `hookline up`")
        children = _descendants(proc.pid)
        assert len(children) >= 4, "sandbox, receiver, worker and beat run as processes"
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert f"http://127.0.0.1:{port}/ui" in output, "up prints the dashboard URL"
    assert "hookline: stopped" in output
    time.sleep(1)
    assert not [pid for pid in children if _alive(pid)], "every child process stopped"

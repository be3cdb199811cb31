"""run_sandbox serves from a real process and exits cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from shared.cli.stack import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_run_sandbox_serves_until_sigterm() -> None:
    port = free_port()
    config = json.dumps({"STEP_SECONDS": 0.2, "CLIP_SECONDS": 1.0, "API_KEY": "sk-proc"})
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.sandbox", "--port", str(port), "--config", config],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 10
        while True:
            try:
                requests.get(base + "_sandbox/faults", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "sandbox process did not start"
                time.sleep(0.1)
        headers = {"Authorization": "Bearer sk-proc"}
        response = requests.post(base + "suno/submit/lyrics", json={"prompt": "x"}, headers=headers, timeout=5)
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

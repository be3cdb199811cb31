"""Two "hosts" on one machine, sharing what a real multi-host deployment shares: one PostgreSQL, one Redis and one
S3-compatible object store, on loopback.

The object store is moto's server mode (``moto[server]``'s ``ThreadedMotoServer``), which speaks the S3 protocol
over real HTTP; MinIO is not installable here (no package in the index this CI can reach), moto is, from PyPI.

Each host has its own working directory and var directory (so nothing can be shared through the disk), its own
receiver, worker and beat (the second beat is a standby on the SQL lease). The upstream is one sandbox; every
notify_hook points at host A's receiver (HOOKLINE_PUBLIC_URL), work is taken by both workers. The test runs the
long-song pipeline and a bulk batch, SIGKILLs host B's worker mid-run, and checks that:
- every job succeeds and every produced file is in the bucket with the recorded size and sha256, and its audio
  decodes to a duration (mutagen, wave);
- either receiver serves any artifact at ``GET /v1/jobs/<id>/artifacts/<aid>``, range requests included;
- nothing was lost to the killed worker, and nothing was written under either host's var/artifacts;
- a host started without HOOKLINE_HOOK_SECRET refuses to start, saying why.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import wave
from pathlib import Path
from typing import Any

import mutagen.mp3
import pytest
import requests
from sqlalchemy import select

from shared import db
from shared.cli.demo_report import files_settled, wait_pipeline
from shared.cli.stack import HOOKLINE, Stack, free_port, wait_until
from shared.config import load_settings
from shared.db import open_session
from shared.models import Artifact, Job
from shared.pipelines import create_pipeline, get_pipeline, load_spec
from tests.fixtures_s3 import S3Bucket

SONG = {"prompt": "[Verse]\nTwo harbours\n\n[Chorus]\nOne tide", "tags": "folk", "title": "Two Harbours",
        "mv": "chirp-crow"}


def host(name: str, root: Path, env: dict[str, str], **kwargs: Any) -> Stack:
    home = root / name
    (home / "var").mkdir(parents=True)
    return Stack(env={**env, "HOOKLINE_VAR_DIR": str(home / "var")}, log_dir=home / "logs", cwd=home, **kwargs)


def log_of(stack: Stack, name: str) -> str:
    path = stack.log_dir / f"{name}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def decoded_seconds(key: str, data: bytes) -> float:
    if key.endswith(".mp3"):
        return float(mutagen.mp3.MP3(io.BytesIO(data)).info.length)
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / w.getframerate()


@pytest.mark.e2e
def test_two_hosts_share_postgres_redis_and_s3(postgres_url: str, redis_url: str, s3_bucket: S3Bucket,
                                               tmp_path: Path) -> None:
    receiver_a, receiver_b, sandbox_port = free_port(), free_port(), free_port()
    shared_env = {
        **s3_bucket.env(prefix="deployment"),
        "HOOKLINE_DATABASE_URL": postgres_url, "HOOKLINE_BROKER_URL": redis_url,
        "HOOKLINE_HOOK_SECRET": "two-hosts-secret", "HOOKLINE_PUBLIC_URL": f"http://127.0.0.1:{receiver_a}",
        "COMETAPI_BASE_URL": f"http://127.0.0.1:{sandbox_port}", "HOOKLINE_RECONCILE_INTERVAL": "1",
        "HOOKLINE_QUEUED_GRACE": "5", "HOOKLINE_CALLBACK_GRACE": "5", "HOOKLINE_BEAT_LEASE": "5",
    }
    settings = load_settings(shared_env)
    db.upgrade(settings)
    a = host("host-a", tmp_path, shared_env, sandbox_port=sandbox_port, receiver_port=receiver_a, workers=0,
             sandbox_args=["--step-seconds", "0.3", "--clip-seconds", "70"])
    b = host("host-b", tmp_path, shared_env, receiver_port=receiver_b, workers=0)
    try:
        a.start()
        b.start()
        a.start_worker("worker-a")
        b.start_worker("worker-b")

        pipeline_id = create_pipeline(settings, load_spec("long-song"), name="two hosts")
        lines = "".join(json.dumps({"operation": "music", "params": {**SONG, "title": f"Bulk {n}"}}) + "\n"
                        for n in range(4))
        accepted = requests.post(f"{b.receiver_url}/v1/bulk", data=lines, timeout=30)  # accepted on host B
        assert accepted.status_code == 202, accepted.text
        bulk_id = accepted.json()["id"]

        wait_until(lambda: "hookline.submit_job" in log_of(b, "worker-b"), 90, 0.2, "host B's worker takes work")
        b.kill("worker-b")  # SIGKILL mid-run: whatever it held must still finish
        assert get_pipeline(pipeline_id, settings=settings)["status"] == "running"  # really mid-run

        view = wait_pipeline(settings, pipeline_id, timeout=300)
        assert view["status"] == "succeeded", json.dumps(view)[:2000]

        def bulk_done() -> list[str] | None:
            with open_session(settings) as session:
                jobs = session.scalars(select(Job).where(Job.bulk_id == bulk_id)).all()
                ids = [j.id for j in jobs]
                terminal = len(jobs) == 4 and all(j.status in ("succeeded", "failed", "canceled") for j in jobs)
            return ids if terminal and files_settled(settings, ids) else None

        bulk_ids = wait_until(bulk_done, 300, 0.5, "the bulk batch finished with its files")
        job_ids = [j for s in view["steps"] for j in s.get("job_ids", [])] + bulk_ids
        wait_until(lambda: files_settled(settings, job_ids), 120, 0.5, "every file settled")
        assert "hookline.submit_job" in log_of(a, "worker-a")  # the work was spread over both workers

        with open_session(settings) as session:
            statuses = {j.id: j.status for j in session.scalars(select(Job).where(Job.id.in_(job_ids)))}
            artifacts = list(session.scalars(select(Artifact).where(Artifact.job_id.in_(job_ids))))
            session.expunge_all()
        assert set(statuses.values()) == {"succeeded"}, statuses
        assert artifacts and all(r.status == "stored" for r in artifacts), [(r.source_url, r.error) for r in
                                                                           artifacts if r.status != "stored"]

        client = s3_bucket.client()
        audio_seconds = []
        for row in artifacts:
            body = client.get_object(Bucket=s3_bucket.name, Key=f"deployment/{row.storage_key}")["Body"].read()
            assert (len(body), hashlib.sha256(body).hexdigest()) == (row.size, row.sha256), row.storage_key
            if row.storage_key.endswith((".mp3", ".wav")):
                audio_seconds.append(decoded_seconds(row.storage_key, body))
            for receiver in (a.receiver_url, b.receiver_url):  # either host serves any file
                served = requests.get(f"{receiver}/v1/jobs/{row.job_id}/artifacts/{row.id}", timeout=30)
                assert served.status_code == 200 and served.headers["ETag"] == f'"{row.sha256}"'
                assert hashlib.sha256(served.content).hexdigest() == row.sha256
        assert audio_seconds and min(audio_seconds) > 1.0 and max(audio_seconds) > 100  # the long song is long
        song = next(r for r in artifacts if r.storage_key.endswith(".mp3") and r.size > 1000)
        part = requests.get(f"{b.receiver_url}/v1/jobs/{song.job_id}/artifacts/{song.id}",
                            headers={"Range": "bytes=100-1099"}, timeout=30)
        whole = client.get_object(Bucket=s3_bucket.name, Key=f"deployment/{song.storage_key}")["Body"].read()
        assert part.status_code == 206 and part.content == whole[100:1100]
        assert part.headers["Content-Range"] == f"bytes 100-1099/{song.size}"
        for name in ("host-a", "host-b"):  # nothing went to a local disk
            assert not (tmp_path / name / "var" / "artifacts").exists()
        assert "standing by" in log_of(a, "beat") + log_of(b, "beat")  # one beat sent, the other stood by
    finally:
        a.stop()
        b.stop()
    secret = shared_env["AWS_SECRET_ACCESS_KEY"]
    for log in tmp_path.glob("host-*/logs/*.log"):  # the S3 credentials never reach a log
        assert secret not in log.read_text(errors="replace"), log

    no_secret = {**a.child_env(), "HOOKLINE_VAR_DIR": str(tmp_path / "host-c")}
    no_secret.pop("HOOKLINE_HOOK_SECRET")
    refused = subprocess.run([*HOOKLINE, "worker"], env=no_secret, capture_output=True, text=True, timeout=120,
                             cwd=tmp_path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "HOOKLINE_HOOK_SECRET: required because the database (HOOKLINE_DATABASE_URL) and the broker" in \
        refused.stderr + refused.stdout

"""P7: artifact throughput, MB/s streamed into S3 (moto's server, loopback) against MB/s into the file store.

    python -m bench.p7_artifact_store [--files 8] [--mib 16] [--rounds 3]

One run, the same path for both stores: ``shared.net.safe_fetch.fetch_into`` (SSRF-guarded GET, sha256 and size on
the way) from a local HTTP server holding ``--mib`` MiB of random bytes, into ``ArtifactStore.put`` (the file store:
temporary file + rename; S3: boto3's managed multipart upload in 8 MiB parts). The rounds alternate the two stores
so machine noise hits both. The S3 server is moto's ``ThreadedMotoServer`` in this process (MinIO is not
installable here), so its own CPU is counted against S3: on 2 cores the ratio is a floor, not what a real object
store on another machine would give.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

from bench.harness import Figure, bench_parser, report
from shared.artifact_store import ArtifactStore, open_store
from shared.cli.stack import free_port, wait_http
from shared.config import load_settings
from shared.net.safe_fetch import fetch_into


def _source(payload: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "audio/wav")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            view = memoryview(payload)
            for start in range(0, len(payload), 1 << 20):
                self.wfile.write(view[start:start + (1 << 20)])

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _push(store: ArtifactStore, url: str, settings: object, files: int, tag: str) -> float:
    """Seconds to stream ``files`` downloads into ``store``."""
    started = time.perf_counter()
    for n in range(files):
        key = f"bench/{tag}-{n}.wav"
        fetch_into(url, lambda chunks, key=key: store.put(key, chunks, "audio/wav"), settings,  # type: ignore[arg-type]
                   max_bytes=1 << 34, timeout=60)
    return time.perf_counter() - started


def run(files: int = 8, mib: int = 16, rounds: int = 3) -> list[Figure]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    payload = os.urandom(mib << 20)
    source = _source(payload)
    url = f"http://127.0.0.1:{source.server_port}/song.wav"
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{moto_port}"
    wait_http(endpoint + "/moto-api/")
    credentials = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    os.environ.update(credentials)
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="bench")
    try:
        with tempfile.TemporaryDirectory(prefix="hookline-p7-") as tmp:
            base = {"COMETAPI_BASE_URL": f"http://127.0.0.1:{source.server_port}", "HOOKLINE_VAR_DIR": tmp}
            file_settings = load_settings({**base, "HOOKLINE_ARTIFACT_STORE": f"file://{Path(tmp) / 'store'}"})
            s3_settings = load_settings({**base, "HOOKLINE_ARTIFACT_STORE": "s3://bench/p7",
                                         "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1"})
            stores = {"file": (open_store(file_settings), file_settings), "s3": (open_store(s3_settings), s3_settings)}
            seconds = {"file": 0.0, "s3": 0.0}
            notes = []
            for r in range(rounds):
                for name in ("file", "s3") if r % 2 == 0 else ("s3", "file"):
                    store, settings = stores[name]
                    took = _push(store, url, settings, files, f"{name}-{r}")
                    seconds[name] += took
                    notes.append(f"round {r + 1} {name}: {files} x {mib} MiB in {took:.2f}s = "
                                 f"{files * mib * 1.048576 / took:.1f} MB/s")
    finally:
        moto.stop()
        source.shutdown()
    total_mb = rounds * files * mib * 1.048576
    file_rate, s3_rate = total_mb / seconds["file"], total_mb / seconds["s3"]
    return [Figure("P7", f"artifact download into S3 (moto, loopback), {mib} MiB files", s3_rate, "MB/s",
                   baseline=file_rate, baseline_what="into the file store, MB/s", ratio=s3_rate / file_rate,
                   target="report", notes=notes)]


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--mib", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    report(run(args.files, args.mib, args.rounds), "bench.p7_artifact_store")


if __name__ == "__main__":
    main()

"""An S3-compatible server for tests: moto's server mode (``ThreadedMotoServer``), which speaks the S3 protocol over
real HTTP on 127.0.0.1. MinIO is not installable here; moto is, from PyPI (the ``test`` extra).

``s3_server`` is one per session; ``s3_bucket`` is a fresh bucket per test and ``s3_env`` the variables that point
hookline at it (``HOOKLINE_ARTIFACT_STORE`` and the standard ``AWS_*`` names). Credentials are moto's dummies.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from shared.cli.stack import free_port, wait_http

# moto accepts any credentials; a distinctive secret lets tests check it never shows up in a log.
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "hookline-test-key", "AWS_REGION": "us-east-1",
                  "AWS_SECRET_ACCESS_KEY": "s3-secret-" + os.urandom(8).hex()}


@dataclass(frozen=True)
class S3Bucket:
    endpoint_url: str
    name: str

    def env(self, prefix: str = "artifacts") -> dict[str, str]:
        return {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint_url,
                "HOOKLINE_ARTIFACT_STORE": f"s3://{self.name}/{prefix}"}

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
                            aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer  # the test extra; a missing one fails, in CI as anywhere

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/moto-api/", timeout=30)
    yield url
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: str) -> S3Bucket:
    bucket = S3Bucket(s3_server, f"hookline-{uuid.uuid4().hex[:12]}")
    bucket.client().create_bucket(Bucket=bucket.name)
    return bucket


@pytest.fixture
def s3_env(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The S3 variables, also in os.environ (boto3 reads the access keys from there, as in production)."""
    env = s3_bucket.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env

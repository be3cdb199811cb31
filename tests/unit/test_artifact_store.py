"""The artifact store: the file backend and the S3 backend (against moto's S3 server over real HTTP) behave alike;
downloads stream into the configured store; rows are checked against the store, not this host's disk."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from shared.artifact_store import ArtifactStore, StoreError, open_store
from shared.artifact_store.file import FileStore
from shared.artifact_store.s3 import PART_BYTES, S3Store
from shared.config import Settings, artifact_store_url, load_settings
from shared.db import open_session
from shared.errors import ConfigError
from shared.jobs.artifacts import download_job_artifacts
from shared.models import Artifact
from tests.fixtures_s3 import S3Bucket
from tests.unit.test_artifacts import MP3, add_job, serve_clip
from tests.unit.test_safe_fetch import LocalServer, Reply


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, settings: Settings) -> ArtifactStore:
    if request.param == "file":
        return open_store(settings)
    request.getfixturevalue("s3_env")
    return open_store(load_settings())


def chunks_of(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for n in range(0, len(data), size):
        yield data[n:n + size]


def test_put_size_read_ranges_and_delete(store: ArtifactStore) -> None:
    data = bytes(range(256)) * 40
    assert store.size("job1/a.mp3") is None
    store.put("job1/a.mp3", chunks_of(data), "audio/mpeg")
    assert store.size("job1/a.mp3") == len(data)
    assert b"".join(store.read("job1/a.mp3")) == data
    assert b"".join(store.read("job1/a.mp3", 100, 356)) == data[100:356]
    assert b"".join(store.read("job1/a.mp3", len(data) - 5)) == data[-5:]
    assert store.read_all("job1/a.mp3", limit=10) is None
    store.delete("job1/a.mp3")
    assert store.size("job1/a.mp3") is None


def test_a_failed_stream_leaves_no_object(store: ArtifactStore) -> None:
    def broken() -> Iterator[bytes]:
        yield b"x" * 5000
        raise RuntimeError("upstream went away")

    with pytest.raises(RuntimeError, match="went away"):
        store.put("job1/broken.mp3", broken(), None)
    assert store.size("job1/broken.mp3") is None


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "a/./b", "a b"])
def test_keys_cannot_leave_the_root(store: ArtifactStore, key: str) -> None:
    with pytest.raises(StoreError, match="not a valid artifact key"):
        store.put(key, [b"x"], None)


def test_s3_multipart_upload_of_a_stream_bigger_than_one_part(s3_env: dict[str, str], s3_bucket: S3Bucket) -> None:
    store = open_store(load_settings())
    assert isinstance(store, S3Store)
    data = os.urandom(PART_BYTES + 123_457)
    store.put("big/song.wav", chunks_of(data, 64 * 1024), "audio/wav")
    head = s3_bucket.client().head_object(Bucket=s3_bucket.name, Key="artifacts/big/song.wav")
    assert (head["ContentLength"], head["ContentType"]) == (len(data), "audio/wav")
    assert hashlib.sha256(b"".join(store.read("big/song.wav"))).digest() == hashlib.sha256(data).digest()


def test_s3_signed_url_serves_the_object_without_credentials(s3_env: dict[str, str]) -> None:
    store = open_store(load_settings())
    store.put("job2/c.mp3", [MP3], "audio/mpeg")
    url = store.signed_url("job2/c.mp3", expires=60, content_type="audio/mpeg", filename="c.mp3")
    assert url is not None and "Signature" in url and s3_env["AWS_SECRET_ACCESS_KEY"] not in url
    got = requests.get(url, timeout=10)
    assert (got.status_code, got.content, got.headers["Content-Type"]) == (200, MP3, "audio/mpeg")


def test_the_file_store_has_no_signed_urls(tmp_path: Path) -> None:
    assert FileStore(tmp_path).signed_url("x/y", expires=1, content_type="a", filename="y") is None


def test_store_setting_is_checked_and_defaults_to_the_artifact_dir(tmp_path: Path) -> None:
    assert artifact_store_url(load_settings({"HOOKLINE_VAR_DIR": str(tmp_path)})) == f"file://{tmp_path}/artifacts"
    s = load_settings({"HOOKLINE_ARTIFACT_STORE": "s3://my-bucket/hookline/"})
    assert artifact_store_url(s) == "s3://my-bucket/hookline"
    for bad in ("/just/a/path", "s3://", "s3://user:pw@bucket/x", "ftp://x/y", "file://relative/x", "s3://B_/x"):
        with pytest.raises(ConfigError, match="HOOKLINE_ARTIFACT_STORE") as caught:
            load_settings({"HOOKLINE_ARTIFACT_STORE": bad})
        assert "pw" not in str(caught.value)


# --- downloads into the store -----------------------------------------------------------------------------------

def stored_rows(settings: Settings, job_id: str) -> list[Artifact]:
    with open_session(settings) as session:
        return list(session.scalars(select(Artifact).where(Artifact.job_id == job_id).order_by(Artifact.id)))


def test_download_streams_into_s3_and_another_host_skips_what_the_bucket_holds(
        settings: Settings, s3_env: dict[str, str], s3_bucket: S3Bucket, tmp_path) -> None:
    with LocalServer() as server:
        host_a = load_settings({**os.environ, "HOOKLINE_DATABASE_URL": settings.database_url,
                                "HOOKLINE_VAR_DIR": str(tmp_path / "a"), "COMETAPI_BASE_URL": server.url})
        host_b = host_a.with_overrides(var_dir=tmp_path / "b")
        job_id = add_job(host_a, clips=[serve_clip(server, "c1")])

        first = download_job_artifacts(host_a, job_id)
        assert [a.status for a in first] == ["stored"] * 3
        audio = first[0]
        assert (audio.storage_key, audio.path, audio.size) == (f"{job_id}/c1.mp3", None, len(MP3))
        body = s3_bucket.client().get_object(Bucket=s3_bucket.name, Key=f"artifacts/{job_id}/c1.mp3")["Body"].read()
        assert hashlib.sha256(body).hexdigest() == audio.sha256 and body == MP3
        assert not (tmp_path / "a" / "artifacts").exists()  # nothing on host A's disk

        fetched = len(server.seen)
        again = download_job_artifacts(host_b, job_id)  # host B: another disk, the same bucket
        assert len(server.seen) == fetched and [a.status for a in again] == ["stored"] * 3

        s3_bucket.client().delete_object(Bucket=s3_bucket.name, Key=f"artifacts/{job_id}/c1.mp3")
        download_job_artifacts(host_b, job_id)  # gone from the bucket: fetched again, only that one
        assert len(server.seen) == fetched + 1
        assert open_store(host_b).size(f"{job_id}/c1.mp3") == len(MP3)


def test_an_unreachable_store_is_a_failed_row_not_an_exception(settings: Settings, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    with LocalServer() as server:
        dead = load_settings({"HOOKLINE_DATABASE_URL": settings.database_url, "COMETAPI_BASE_URL": server.url,
                              "HOOKLINE_ARTIFACT_STORE": "s3://nowhere/x", "AWS_REGION": "us-east-1",
                              "AWS_ENDPOINT_URL": f"http://127.0.0.1:{_closed_port()}"})
        server.route("/cdn/a.mp3", Reply(body=MP3))
        job_id = add_job(dead, clips=[{"clip_id": "c1", "audio_url": server.url + "/cdn/a.mp3"}])
        rows = download_job_artifacts(dead, job_id)
    assert [r.status for r in rows] == ["failed"]
    assert "s3://nowhere/x/" in (rows[0].error or "") and "y" not in (rows[0].error or "").split("://")[0]


def _closed_port() -> int:
    from shared.cli.stack import free_port

    return free_port()

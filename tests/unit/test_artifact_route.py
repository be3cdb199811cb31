"""GET /v1/jobs/<id>/artifacts/<aid>: the stored file from the file store or S3 (moto's server), with its type,
length, ETag, ranges, 304/416, the signed-URL redirect, and the job's own authorization."""

from __future__ import annotations

import hashlib

import pytest
import requests

from shared.artifact_store import open_store
from shared.config import Settings, load_settings
from shared.db import open_session
from shared.models import Artifact, Job
from tests.unit.api_clients import api_client, bearer, new_key

DATA = b"ID3\x04" + bytes(range(256)) * 20  # 5124 bytes
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture(params=["file", "s3"])
def store_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    if request.param == "file":
        return settings
    env = request.getfixturevalue("s3_env")
    return settings.with_overrides(artifact_store=env["HOOKLINE_ARTIFACT_STORE"],
                                   s3_endpoint_url=env["AWS_ENDPOINT_URL"], s3_region="us-east-1")


def stored_job(settings: Settings, api_key_id: str | None = None, *, in_store: bool = True) -> tuple[str, int, int]:
    """A succeeded job with a stored mp3 (in the store unless ``in_store`` is False) and a refused cover."""
    with open_session(settings) as session:
        job = Job(operation="music", status="succeeded", params={}, api_key_id=api_key_id)
        session.add(job)
        session.flush()
        key = f"{job.id}/c1.mp3"
        audio = Artifact(job_id=job.id, source_url="https://cdn1.suno.ai/c1.mp3", kind="audio", clip_id="c1",
                         status="stored", storage_key=key, size=len(DATA), sha256=SHA, content_type="audio/mpeg")
        cover = Artifact(job_id=job.id, source_url="https://cdn2.suno.ai/c1.png", kind="image", clip_id="c1",
                         status="refused", error="not on the allowlist")
        session.add_all([audio, cover])
        session.commit()
        ids = (job.id, audio.id, cover.id)
    if in_store:
        open_store(settings).put(key, [DATA], "audio/mpeg")
    return ids


def test_whole_file_with_type_length_and_etag(store_settings: Settings) -> None:
    job_id, audio_id, _ = stored_job(store_settings)
    client = api_client(store_settings)
    job = client.get(f"/v1/jobs/{job_id}").get_json()
    art = job["artifacts"][0]
    assert (art["url"], art["key"]) == (f"/v1/jobs/{job_id}/artifacts/{audio_id}", f"{job_id}/c1.mp3")
    assert "path" not in art and job["artifacts"][1]["url"] is None

    got = client.get(art["url"])
    assert got.status_code == 200 and got.data == DATA
    assert (got.headers["Content-Type"], got.headers["Content-Length"]) == ("audio/mpeg", str(len(DATA)))
    assert (got.headers["ETag"], got.headers["Accept-Ranges"]) == (f'"{SHA}"', "bytes")
    assert "sandbox" in got.headers["Content-Security-Policy"]
    assert client.get(art["url"], headers={"If-None-Match": f'"{SHA}"'}).status_code == 304


@pytest.mark.parametrize(("header", "start", "stop"), [("bytes=0-99", 0, 100), ("bytes=5000-", 5000, 5124),
                                                        ("bytes=-24", 5100, 5124), ("bytes=100-99999", 100, 5124)])
def test_range_requests(store_settings: Settings, header: str, start: int, stop: int) -> None:
    job_id, audio_id, _ = stored_job(store_settings)
    got = api_client(store_settings).get(f"/v1/jobs/{job_id}/artifacts/{audio_id}", headers={"Range": header})
    assert got.status_code == 206 and got.data == DATA[start:stop]
    assert got.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{len(DATA)}"
    assert got.headers["Content-Length"] == str(stop - start)


def test_unsatisfiable_range_is_416_and_a_stale_if_range_gets_the_whole_file(settings: Settings) -> None:
    job_id, audio_id, _ = stored_job(settings)
    client, url = api_client(settings), f"/v1/jobs/{job_id}/artifacts/{audio_id}"
    got = client.get(url, headers={"Range": "bytes=6000-7000"})
    assert got.status_code == 416 and got.headers["Content-Range"] == f"bytes */{len(DATA)}"
    whole = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"another"'})
    assert whole.status_code == 200 and whole.data == DATA
    two = client.get(url, headers={"Range": "bytes=0-9,20-29"})
    assert two.status_code == 200 and two.data == DATA


def test_not_stored_missing_and_foreign_artifacts_are_404(settings: Settings) -> None:
    job_id, audio_id, cover_id = stored_job(settings)
    other_job, other_audio, _ = stored_job(settings, in_store=False)
    client = api_client(settings)
    assert client.get(f"/v1/jobs/{job_id}/artifacts/{cover_id}").get_json()["error"]["code"] == "not_stored"
    assert client.get(f"/v1/jobs/{other_job}/artifacts/{other_audio}").status_code == 404  # row, no object
    assert client.get(f"/v1/jobs/{other_job}/artifacts/{audio_id}").get_json()["error"]["code"] == "not_found"
    assert client.get(f"/v1/jobs/{job_id}/artifacts/999999").status_code == 404
    assert client.get(f"/v1/jobs/{job_id}/artifacts/{audio_id}?x=1").status_code == 400


def test_same_authorization_as_the_job(settings: Settings) -> None:
    owner, stranger = new_key(settings, "owner"), new_key(settings, "stranger")
    job_id, audio_id, _ = stored_job(settings, owner.id)
    client, url = api_client(settings), f"/v1/jobs/{job_id}/artifacts/{audio_id}"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=bearer(stranger)).status_code == 404
    assert client.get(url, headers=bearer(owner)).data == DATA


def test_s3_redirects_to_a_short_lived_signed_url_when_asked(settings: Settings, s3_env: dict[str, str]) -> None:
    s3 = load_settings({**s3_env, "HOOKLINE_DATABASE_URL": settings.database_url,
                        "HOOKLINE_ARTIFACT_REDIRECT": "1"})
    job_id, audio_id, _ = stored_job(s3)
    got = api_client(s3).get(f"/v1/jobs/{job_id}/artifacts/{audio_id}")
    assert got.status_code == 302 and "X-Amz-Expires=300" in got.headers["Location"]
    fetched = requests.get(got.headers["Location"], headers={"Range": "bytes=10-19"}, timeout=10)
    assert fetched.status_code == 206 and fetched.content == DATA[10:20]
    file_store = settings.with_overrides(artifact_redirect=True)  # no signed URLs there: served directly
    job_id, audio_id, _ = stored_job(file_store)
    assert api_client(file_store).get(f"/v1/jobs/{job_id}/artifacts/{audio_id}").data == DATA


def test_dashboard_sessions_may_download_but_never_write(settings: Settings) -> None:
    from tests.unit.test_dashboard_login import PASSWORD, client_for, log_in

    owner, stranger = new_key(settings, "owner"), new_key(settings, "stranger")
    job_id, audio_id, _ = stored_job(settings, owner.id)
    url = f"/v1/jobs/{job_id}/artifacts/{audio_id}"
    operator = client_for(settings)
    assert operator.get(url).status_code == 401  # no session yet
    assert log_in(operator, PASSWORD) == 302
    assert operator.get(url).data == DATA
    for who, key, expected in (("owner", owner.key, 200), ("stranger", stranger.key, 404)):
        web = client_for(settings)
        assert log_in(web, key) == 302, who
        got = web.get(url, headers={"Range": "bytes=0-9"})
        assert got.status_code == (206 if expected == 200 else 404), who
        assert web.get(f"/v1/jobs/{job_id}").status_code == 401  # only the download route takes the cookie
        assert web.post("/v1/jobs", json={"operation": "lyrics", "params": {"prompt": "x"}}).status_code == 401

"""The S3 store (``s3://bucket/prefix``) on boto3: AWS S3, MinIO, R2, Ceph or any S3-compatible service.

Credentials come from boto3's own chain (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, a profile, an
instance role); ``AWS_REGION`` and ``AWS_ENDPOINT_URL`` are read by ``shared.config``. With an endpoint URL the
client uses path-style addressing (what MinIO and most self-hosted services expect) and computes checksums only
where the API requires them (several S3-compatible services reject the trailing checksums newer botocore sends).

Uploads go through boto3's managed transfer: a non-seekable stream is read in 8 MiB parts (a multipart upload
past the first part), so memory stays bounded whatever the file size, and a failed upload is aborted, leaving no
object behind.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.artifact_store.base import CHUNK_BYTES, ArtifactStore, StoreError, check_key

PART_BYTES = 8 * 1024 * 1024
TRANSFER = TransferConfig(multipart_threshold=PART_BYTES, multipart_chunksize=PART_BYTES, max_concurrency=2,
                          use_threads=True)


class ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks, for ``upload_fileobj`` (which wants ``read(n)``)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class S3Store(ArtifactStore):
    def __init__(self, url: str, *, region: str | None, endpoint_url: str | None) -> None:
        parts = urlsplit(url)
        self.url, self.bucket, self.prefix = url, parts.netloc, parts.path.strip("/")
        config = Config(s3={"addressing_style": "path"} if endpoint_url else {}, retries={"mode": "standard"},
                        signature_version="s3v4",
                        request_checksum_calculation="when_required",
                        response_checksum_validation="when_required", connect_timeout=10, read_timeout=60)
        self.client = boto3.session.Session().client("s3", region_name=region, endpoint_url=endpoint_url,
                                                     config=config)

    def object_key(self, key: str) -> str:
        return f"{self.prefix}/{check_key(key)}" if self.prefix else check_key(key)

    def _fail(self, doing: str, key: str, exc: Exception) -> StoreError:
        return StoreError(f"{doing} s3://{self.bucket}/{self.object_key(key)} failed: {exc}")

    def put(self, key: str, chunks: Iterable[bytes], content_type: str | None) -> None:
        extra = {"ContentType": content_type} if content_type else {}
        try:
            self.client.upload_fileobj(ChunkReader(chunks), self.bucket, self.object_key(key), ExtraArgs=extra,  # type: ignore[arg-type]
                                       Config=TRANSFER)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("upload to", key, exc) from exc

    def size(self, key: str) -> int | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._fail("head of", key, exc) from exc
        except BotoCoreError as exc:
            raise self._fail("head of", key, exc) from exc
        return int(head["ContentLength"])

    def read(self, key: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        if stop is not None and stop <= start:
            return
        options: dict[str, Any] = {}
        if start or stop is not None:
            options["Range"] = f"bytes={start}-{'' if stop is None else stop - 1}"
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key), **options)["Body"]
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("read of", key, exc) from exc
        try:
            yield from body.iter_chunks(CHUNK_BYTES)
        finally:
            body.close()

    def signed_url(self, key: str, *, expires: int, content_type: str, filename: str) -> str | None:
        disposition = f"inline; filename*=UTF-8''{quote(filename)}"
        return str(self.client.generate_presigned_url(
            "get_object", ExpiresIn=expires,
            Params={"Bucket": self.bucket, "Key": self.object_key(key), "ResponseContentType": content_type,
                    "ResponseContentDisposition": disposition}))

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("delete of", key, exc) from exc

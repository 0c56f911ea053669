"""Media bytes in an S3-compatible object store (MinIO, AWS S3, Cloudflare R2, Ceph...), for
Tracehouse on a ClickHouse server, where several processes must see the same files.

An upload is spooled to a temporary file while its length and SHA-256 are checked; only bytes
that are what was registered are sent, with their SHA-256, so the store checks them too. The
store's success answer is its durability promise; the upload is acknowledged after it. Objects
are named ``{prefix}{project}/{media id}``. The client (``minio``) is synchronous: every call runs
in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3
from minio import Minio
from minio.error import S3Error

from storage.media import check_ids, write_checked
from tracehouse.errors import NotFound, StorageUnavailable

__all__ = ["S3MediaFiles"]

_MISSING = ("NoSuchKey", "NoSuchObject", "NotFound", "ResourceNotFound")


class S3MediaFiles:
    """Media bytes as objects of one bucket."""

    def __init__(
        self, endpoint: str, bucket: str, access_key: str, secret_key: str, region: str = "", prefix: str = ""
    ) -> None:
        """``endpoint`` is a URL (``http://minio:9000``, ``https://s3.eu-west-1.amazonaws.com``)."""
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"media S3 endpoint {endpoint!r} is not an http(s) URL")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        # Bounded waits: a store that hangs fails an upload in a minute, not the library's five.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=60),
            maxsize=16,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
        )
        self._client = Minio(
            parts.netloc,
            access_key=access_key,
            secret_key=secret_key,
            secure=parts.scheme == "https",
            region=region or None,
            http_client=http,
        )

    def _name(self, project_id: str, media_id: str) -> str:
        check_ids(project_id, media_id)
        return f"{self.prefix}{project_id}/{media_id}"

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except S3Error as exc:
            if exc.code in _MISSING:
                raise
            raise StorageUnavailable(f"the media object store refused: {exc.code} {exc.message}") from None
        except (OSError, ValueError, urllib3.exceptions.HTTPError) as exc:  # refused, DNS, TLS, timeouts
            raise StorageUnavailable(f"the media object store cannot be reached: {exc}") from None

    async def ensure_bucket(self) -> None:
        """Make the bucket if it is missing (start-up); StorageUnavailable when the store cannot."""
        if not await self._call(self._client.bucket_exists, self.bucket):
            await self._call(self._client.make_bucket, self.bucket)

    async def write(
        self, project_id: str, media_id: str, chunks: AsyncIterator[bytes], length: int, sha256_base64: str
    ) -> None:
        name = self._name(project_id, media_id)
        spool = await asyncio.to_thread(tempfile.TemporaryFile)
        try:
            await write_checked(spool, chunks, length, sha256_base64)
            await asyncio.to_thread(spool.seek, 0)
            await self._call(
                self._client.put_object,
                self.bucket,
                name,
                spool,
                length,
                content_type="application/octet-stream",
                # The store checks the bytes it received against the hash we checked.
                metadata={"x-amz-checksum-sha256": sha256_base64},
            )
        finally:
            spool.close()

    async def exists(self, project_id: str, media_id: str) -> bool:
        try:
            await self._call(self._client.stat_object, self.bucket, self._name(project_id, media_id))
        except S3Error:
            return False
        return True

    async def delete(self, project_id: str, media_id: str) -> None:
        with contextlib.suppress(S3Error):  # gone already
            await self._call(self._client.remove_object, self.bucket, self._name(project_id, media_id))

    async def read(self, project_id: str, media_id: str) -> AsyncIterator[bytes]:
        try:
            response = await self._call(self._client.get_object, self.bucket, self._name(project_id, media_id))
        except S3Error:
            raise NotFound("this media has not been uploaded") from None
        try:
            stream: Iterator[bytes] = response.stream(256 * 1024)
            while chunk := await asyncio.to_thread(next, stream, b""):
                yield chunk
        finally:
            response.close()
            response.release_conn()

    def local_path(self, project_id: str, media_id: str) -> Path | None:
        return None

"""Media: the images, audio and documents of LLM calls that the Langfuse SDKs upload out of band.

A file is registered first (content type, length, SHA-256, and the trace field that holds its
reference string), then its bytes are uploaded, checked against the registered length and hash,
and written to the media directory with fsync before the upload is acknowledged. A file's id
derives from its SHA-256 (as the SDKs compute it), so the same content in one project is stored
once. Which traces hold which file is in ``trace_media``, deleted with the trace and aged by the
project's retention; ``sweep`` removes the files no trace holds any more.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import os
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import pyarrow as pa

from storage.api import Backend
from storage.projects import Versions
from storage.tables import DATASET_ITEM_MEDIA, MEDIA, TRACE_MEDIA
from tracehouse.errors import InvalidInput, NotFound

__all__ = [
    "ALLOWED_TYPES",
    "MEDIA_FIELDS",
    "MediaBlobs",
    "MediaFiles",
    "MediaRecord",
    "MediaStore",
    "check_ids",
    "fsync_dir",
    "media_id_of",
    "write_checked",
]

# The content types the Langfuse SDKs declare (their MediaContentType), and nothing else.
ALLOWED_TYPES = frozenset(
    {
        *(f"image/{t}" for t in ("png", "jpeg", "jpg", "webp", "gif", "svg+xml", "tiff", "bmp", "avif", "heic")),
        *(f"audio/{t}" for t in ("mpeg", "mp3", "wav", "ogg", "oga", "aac", "mp4", "flac", "opus", "webm")),
        *(f"video/{t}" for t in ("mp4", "webm", "ogg", "mpeg", "quicktime", "x-msvideo", "x-matroska")),
        *(f"text/{t}" for t in ("plain", "html", "css", "csv", "markdown", "x-python", "x-typescript")),
        "application/javascript",
        "application/x-yaml",
        "application/pdf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/zip",
        "application/json",
        "application/xml",
        "application/octet-stream",
        "application/rtf",
        "application/x-ndjson",
        "application/vnd.apache.parquet",
        "application/gzip",
        "application/x-tar",
        "application/x-7z-compressed",
    }
)
MEDIA_FIELDS = ("input", "output", "metadata")
ITEM_MEDIA_FIELDS = ("input", "expectedOutput", "metadata")
_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
_PROJECT = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def media_id_of(sha256_base64: str) -> str:
    """The id the Langfuse SDKs derive from a file's SHA-256 (base64): URL-safe, 22 characters.
    InvalidInput unless the hash is the base64 of 32 bytes."""
    try:
        raw = base64.b64decode(sha256_base64, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise InvalidInput("sha256Hash must be the base64 SHA-256 of the file (32 bytes)")
    return base64.b64encode(raw).decode().replace("+", "-").replace("/", "_")[:22]


async def write_checked(handle: BinaryIO, chunks: AsyncIterator[bytes], length: int, sha256_base64: str) -> None:
    """Write an upload to ``handle``; InvalidInput unless its length and SHA-256 are the registered ones."""
    digest = hashlib.sha256()
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > length:
            raise InvalidInput(f"the upload is longer than the {length} bytes registered")
        digest.update(chunk)
        await asyncio.to_thread(handle.write, chunk)
    if size != length:
        raise InvalidInput(f"the upload has {size} bytes; {length} were registered")
    if base64.b64encode(digest.digest()).decode() != sha256_base64:
        raise InvalidInput("the upload's SHA-256 is not the one registered")


def check_ids(project_id: str, media_id: str) -> None:
    """InvalidInput unless both are ids this store makes (they name files and objects)."""
    if not _PROJECT.match(project_id) or not _ID.match(media_id):
        raise InvalidInput("not a media id")


class MediaBlobs(Protocol):
    """Where the bytes of media live: files under the data directory (embedded) or an
    S3-compatible object store (a ClickHouse server, several Tracehouse processes)."""

    async def write(
        self, project_id: str, media_id: str, chunks: AsyncIterator[bytes], length: int, sha256_base64: str
    ) -> None:
        """Keep an upload, durably, or raise InvalidInput (and keep nothing) unless its length and
        SHA-256 are the registered ones."""
        ...

    async def exists(self, project_id: str, media_id: str) -> bool: ...

    async def delete(self, project_id: str, media_id: str) -> None: ...

    def read(self, project_id: str, media_id: str) -> AsyncIterator[bytes]:
        """The bytes, in chunks; NotFound if they are not kept."""
        ...

    def local_path(self, project_id: str, media_id: str) -> Path | None:
        """The file on this machine, when there is one (served with sendfile)."""
        ...


@dataclass(frozen=True)
class MediaRecord:
    project_id: str
    id: str
    sha256_hash: str
    content_type: str
    content_length: int
    uploaded_at: dt.datetime | None
    created_at: dt.datetime


class MediaFiles:
    """The bytes, one file per project and media id under ``root``, written whole or not at all."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, project_id: str, media_id: str) -> Path:
        check_ids(project_id, media_id)
        return self.root / project_id / media_id

    def local_path(self, project_id: str, media_id: str) -> Path | None:
        return self.path(project_id, media_id)

    async def write(
        self, project_id: str, media_id: str, chunks: AsyncIterator[bytes], length: int, sha256_base64: str
    ) -> None:
        """Stream an upload to disk; InvalidInput (and nothing kept) unless its length and SHA-256
        are the registered ones. The file is fsynced and renamed into place before this returns."""
        final = self.path(project_id, media_id)
        await asyncio.to_thread(final.parent.mkdir, parents=True, exist_ok=True)
        temp = final.with_name(f".{media_id}.{secrets.token_hex(4)}.part")
        handle = await asyncio.to_thread(open, temp, "wb")
        try:
            await write_checked(handle, chunks, length, sha256_base64)
            await asyncio.to_thread(handle.flush)
            await asyncio.to_thread(os.fsync, handle.fileno())
        except BaseException:
            handle.close()
            temp.unlink(missing_ok=True)
            raise
        handle.close()
        await asyncio.to_thread(os.replace, temp, final)
        await asyncio.to_thread(fsync_dir, final.parent)

    async def exists(self, project_id: str, media_id: str) -> bool:
        return await asyncio.to_thread(self.path(project_id, media_id).is_file)

    async def delete(self, project_id: str, media_id: str) -> None:
        await asyncio.to_thread(self.path(project_id, media_id).unlink, missing_ok=True)

    async def read(self, project_id: str, media_id: str) -> AsyncIterator[bytes]:
        try:
            handle = await asyncio.to_thread(open, self.path(project_id, media_id), "rb")
        except FileNotFoundError:
            raise NotFound("this media has not been uploaded") from None
        try:
            while chunk := await asyncio.to_thread(handle.read, 256 * 1024):
                yield chunk
        finally:
            handle.close()


def fsync_dir(path: Path) -> None:
    """Make the names in directory ``path`` durable (a new or removed file survives power loss)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MediaStore:
    """Media records, the traces that hold them, and their files."""

    def __init__(self, backend: Backend, files: MediaBlobs | None) -> None:
        self._backend = backend
        self.files = files
        self._versions = Versions()

    async def _put(self, record: MediaRecord, status: int = 0, error: str = "") -> None:
        row = {
            **record.__dict__,
            "upload_http_status": status,
            "upload_http_error": error[:2000],
            "updated_at": self._versions.next(),
            "is_deleted": 0,
        }
        await self._backend.insert(MEDIA.name, pa.Table.from_pylist([row], schema=MEDIA.arrow_schema()))

    async def register(
        self,
        project_id: str,
        *,
        trace_id: str,
        observation_id: str,
        field: str,
        content_type: str,
        content_length: int,
        sha256_base64: str,
        max_bytes: int,
        retention_days: int,
        dataset_id: str = "",
        dataset_item_id: str = "",
    ) -> tuple[MediaRecord, bool]:
        """Register a file held by a trace's field (or a dataset item's: ``dataset_id`` and
        ``dataset_item_id`` instead of ``trace_id``); the record and whether its bytes are still to come."""
        media_id = media_id_of(sha256_base64)
        if content_type not in ALLOWED_TYPES:
            raise InvalidInput(f"content type {content_type!r} is not accepted for media")
        if not 0 < content_length <= max_bytes:
            raise InvalidInput(f"contentLength must be 1 to {max_bytes} bytes")
        now = dt.datetime.now(dt.UTC)
        # The link first: a record with no link would be swept as held by nothing.
        if dataset_item_id:
            if field not in ITEM_MEDIA_FIELDS:
                raise InvalidInput(f"field must be one of {', '.join(ITEM_MEDIA_FIELDS)} for a dataset item")
            if trace_id or not dataset_id or len(dataset_id) > 200 or len(dataset_item_id) > 200:
                raise InvalidInput("give a traceId, or a datasetId and a datasetItemId (ids of at most 200 characters)")
            item_link = {"project_id": project_id, "dataset_id": dataset_id, "dataset_item_id": dataset_item_id,
                         "field": field, "media_id": media_id, "created_at": now, "updated_at": self._versions.next(),
                         "is_deleted": 0}  # fmt: skip
            schema = DATASET_ITEM_MEDIA.arrow_schema()
            await self._backend.insert(DATASET_ITEM_MEDIA.name, pa.Table.from_pylist([item_link], schema=schema))
        else:
            if field not in MEDIA_FIELDS:
                raise InvalidInput(f"field must be one of {', '.join(MEDIA_FIELDS)}")
            if not trace_id or len(trace_id) > 200 or len(observation_id) > 200:
                raise InvalidInput("traceId is required (and ids are at most 200 characters)")
            link = {
                "project_id": project_id,
                "trace_id": trace_id,
                "observation_id": observation_id,
                "field": field,
                "media_id": media_id,
                "created_at": now,
                "retention_days": retention_days,
            }
            schema = TRACE_MEDIA.arrow_schema()
            await self._backend.insert(TRACE_MEDIA.name, pa.Table.from_pylist([link], schema=schema))
        try:
            record = await self.get(project_id, media_id)
        except NotFound:
            record = MediaRecord(
                project_id, media_id, sha256_base64, content_type, content_length, None, dt.datetime.now(dt.UTC)
            )
            await self._put(record)
        uploaded = (
            record.uploaded_at is not None and self.files is not None and await self.files.exists(project_id, media_id)
        )
        return record, not uploaded

    async def get(self, project_id: str, media_id: str) -> MediaRecord:
        """A project's media record; NotFound for an unknown id or another project's."""
        rows = await self._backend.query(
            "SELECT project_id, id, sha256_hash, content_type, content_length, uploaded_at, created_at "
            "FROM media FINAL WHERE project_id = {p:String} AND id = {i:String} AND is_deleted = 0",
            {"p": project_id, "i": media_id},
        )
        if not rows:
            raise NotFound(f"no media {media_id!r} in this project")
        return MediaRecord(**rows[0])

    async def upload(self, project_id: str, media_id: str, content_type: str, chunks: AsyncIterator[bytes]) -> None:
        """Take the bytes of a registered file; InvalidInput if they are not what was registered."""
        if self.files is None:
            raise InvalidInput("this server keeps no media files")
        record = await self.get(project_id, media_id)
        if content_type.split(";")[0].strip().lower() != record.content_type:
            raise InvalidInput(f"Content-Type must be {record.content_type}, as registered")
        await self.files.write(project_id, media_id, chunks, record.content_length, record.sha256_hash)
        await self._put(MediaRecord(**{**record.__dict__, "uploaded_at": dt.datetime.now(dt.UTC)}), status=200)

    async def report(self, project_id: str, media_id: str, status: int, error: str) -> None:
        """What the client says of its upload (Langfuse's PATCH); the record keeps it."""
        record = await self.get(project_id, media_id)
        await self._put(record, status=status, error=error)

    async def of_trace(self, project_id: str, trace_id: str) -> list[str]:
        rows = await self._backend.query(
            "SELECT DISTINCT media_id FROM trace_media WHERE project_id = {p:String} AND trace_id = {t:String}",
            {"p": project_id, "t": trace_id},
        )
        return [r["media_id"] for r in rows]

    async def release_items(self, project_id: str, dataset_id: str, item_ids: list[str] | None = None) -> None:
        """The items (or every item of the dataset) no longer hold their media: it is swept next."""
        where = "AND dataset_item_id IN {items:Array(String)}" if item_ids is not None else ""
        rows = await self._backend.query(
            "SELECT project_id, dataset_id, dataset_item_id, field, media_id, created_at FROM dataset_item_media FINAL "
            f"WHERE project_id = {{p:String}} AND dataset_id = {{d:String}} AND is_deleted = 0 {where}",
            {"p": project_id, "d": dataset_id, "items": item_ids or []},
        )
        if rows:
            stamp = self._versions.next()
            tombstones = [{**r, "updated_at": stamp, "is_deleted": 1} for r in rows]
            schema = DATASET_ITEM_MEDIA.arrow_schema()
            await self._backend.insert(DATASET_ITEM_MEDIA.name, pa.Table.from_pylist(tombstones, schema=schema))

    async def of_item(self, project_id: str, dataset_item_id: str) -> list[str]:
        rows = await self._backend.query(
            "SELECT DISTINCT media_id FROM dataset_item_media FINAL WHERE project_id = {p:String} "
            "AND dataset_item_id = {i:String} AND is_deleted = 0",
            {"p": project_id, "i": dataset_item_id},
        )
        return [r["media_id"] for r in rows]

    async def sweep(self, project_id: str | None = None) -> int:
        """Remove the media no trace and no dataset item holds any more (deleted traces and items,
        expired retention): records and files."""
        where = "AND m.project_id = {p:String}" if project_id else ""
        rows = await self._backend.query(
            "SELECT m.project_id AS project_id, m.id AS id FROM media AS m FINAL "
            "LEFT ANTI JOIN (SELECT DISTINCT project_id, media_id FROM trace_media UNION ALL "
            "SELECT project_id, media_id FROM dataset_item_media FINAL WHERE is_deleted = 0) AS l "
            "ON l.project_id = m.project_id AND l.media_id = m.id "
            f"WHERE m.is_deleted = 0 {where}",
            {"p": project_id or ""},
        )
        for r in rows:
            record = await self.get(r["project_id"], r["id"])
            row = {**record.__dict__, "upload_http_status": 0, "upload_http_error": "", "is_deleted": 1}
            row["updated_at"] = self._versions.next()
            await self._backend.insert(MEDIA.name, pa.Table.from_pylist([row], schema=MEDIA.arrow_schema()))
            if self.files is not None:
                await self.files.delete(r["project_id"], r["id"])
        return len(rows)

"""A write-ahead log for span batches: acknowledged once fsynced here, inserted a moment later.

Under load an export request that would wait behind a running insert is appended to this log
instead, fsynced, and acknowledged; the batcher inserts it with everything else that came in
meanwhile, so inserts grow far past what the senders' own requests hold. At start-up whatever
the log still holds (a crash came before its insert committed, or after it but before the
log was told) is written again through the span writer, which skips the spans already
stored: every acknowledged span is stored exactly once.

Layout: ``<dir>/<segment number>.wal`` segments of records, each
``magic | payload length | CRC-32 | sequence number | Arrow IPC stream``. Appends of concurrent
requests coalesce into one write and one fsync (group commit). A segment is deleted once every
record in it is in the store; the active one rolls over at ``segment_bytes``. A torn record
at the end of a segment (the crash came mid-write, before its fsync, so it was never
acknowledged) ends that segment's replay.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from otlp_receiver.decode import table_from_ipc, table_to_ipc
from storage.media import fsync_dir
from tracehouse.errors import StorageUnavailable

__all__ = ["LogRecord", "WriteAheadLog"]

log = logging.getLogger(__name__)

MAGIC = b"THW1"
HEADER = struct.Struct("<4sIIQ")  # magic, payload length, CRC-32 of the payload, sequence number
SEGMENT_BYTES = 64 * 1024 * 1024
SUFFIX = ".wal"


@dataclass(frozen=True)
class LogRecord:
    """One batch found in the log at start-up."""

    seq: int
    table: pa.Table


class WriteAheadLog:
    """Append batches durably; forget them once the store holds them. One process per directory
    (the embedded store's lock already guarantees that)."""

    def __init__(self, path: Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self._next_seq = 1
        # Segments are numbered on from those a previous run left, so no name is ever reused.
        self._next_segment = 1 + max((int(p.stem) for p in self.segments() if p.stem.isdigit()), default=0)
        self._active: Path | None = None
        self._fd: int | None = None
        self._active_size = 0
        # Sequence numbers not yet in the store, by segment; a segment with none left (and not
        # active) is deleted.
        self._unreleased: dict[Path, set[int]] = {}
        self._pending: list[tuple[pa.Table, int, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None
        self.bytes_on_disk = sum(p.stat().st_size for p in self.segments())

    # -- start-up -------------------------------------------------------------------------------

    def segments(self) -> list[Path]:
        """Segment files, oldest first."""
        return sorted(self.path.glob(f"*{SUFFIX}"), key=lambda p: int(p.stem) if p.stem.isdigit() else -1)

    def records(self) -> Iterator[LogRecord]:
        """Every whole record the log holds, oldest first (a torn or corrupt record ends its segment)."""
        for segment in self.segments():
            data = segment.read_bytes()
            at = 0
            while at + HEADER.size <= len(data):
                magic, length, crc, seq = HEADER.unpack_from(data, at)
                payload = data[at + HEADER.size : at + HEADER.size + length]
                if magic != MAGIC or len(payload) != length or zlib.crc32(payload) != crc:
                    if at + HEADER.size + length < len(data):
                        log.error("write-ahead log %s: a corrupt record at byte %d; the rest is skipped", segment, at)
                    break
                yield LogRecord(seq, table_from_ipc(payload))
                at += HEADER.size + length

    def discard_replayed(self) -> None:
        """Delete every segment present at start-up (their records are now in the store)."""
        for segment in self.segments():
            if segment != self._active:
                segment.unlink(missing_ok=True)
        fsync_dir(self.path)
        self.bytes_on_disk = self._active_size

    # -- appends --------------------------------------------------------------------------------

    async def append(self, table: pa.Table) -> int:
        """Append ``table``; return its sequence number once it is fsynced (raises OSError if the
        disk refused it)."""
        seq = self._next_seq
        self._next_seq += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((table, seq, future))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_pending())
        await asyncio.shield(future)
        return seq

    async def _write_pending(self) -> None:
        # Whatever is pending when a write starts goes in that write; what comes during it, in the next.
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self._write, [(table, seq) for table, seq, _ in batch])
            except OSError as exc:
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, _, future in batch:
                if not future.done():
                    future.set_result(None)

    def _write(self, records: list[tuple[pa.Table, int]]) -> None:
        """Serialise, write and fsync ``records``, in a thread (off the event loop)."""
        if self._fd is None or self._active_size >= self.segment_bytes:
            self._roll()
        assert self._fd is not None and self._active is not None
        chunks = []
        for table, seq in records:
            payload = table_to_ipc(table)
            chunks.append(HEADER.pack(MAGIC, len(payload), zlib.crc32(payload), seq))
            chunks.append(payload)
        data = b"".join(chunks)
        try:
            written = os.write(self._fd, data)
            while written < len(data):  # a short write (rare): finish it before the fsync
                written += os.write(self._fd, data[written:])
            os.fsync(self._fd)
        except OSError:
            # Part of this write may be in the file, and a torn record would end its replay there:
            # later records go to a new segment; this one stays for what it holds already, or is
            # deleted if it holds nothing acknowledged (else each refused write on a full disk
            # left an empty segment behind: hundreds of files in a minute).
            os.close(self._fd)
            failed, self._fd, self._active = self._active, None, None
            if not self._unreleased.get(failed):
                failed.unlink(missing_ok=True)
                self._unreleased.pop(failed, None)
                self.bytes_on_disk -= self._active_size
            raise
        self._active_size += len(data)
        self.bytes_on_disk += len(data)
        self._unreleased.setdefault(self._active, set()).update(seq for _, seq in records)

    def _roll(self) -> None:
        """Close the active segment (deleting it if nothing in it is waiting) and open a new one."""
        self._close_active()
        self._active = self.path / f"{self._next_segment:012d}{SUFFIX}"
        self._next_segment += 1
        self._fd = os.open(self._active, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._active_size = 0
        fsync_dir(self.path)  # the new file's name is durable before any record in it is acknowledged

    def _close_active(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        active, self._active = self._active, None
        if active is not None and not self._unreleased.get(active):
            self._delete(active)

    def _delete(self, segment: Path) -> None:
        try:
            size = segment.stat().st_size
        except OSError:
            size = 0
        segment.unlink(missing_ok=True)
        self._unreleased.pop(segment, None)
        self.bytes_on_disk -= size

    # -- after inserts --------------------------------------------------------------------------

    def release(self, seqs: list[int]) -> None:
        """These records are in the store: delete the segments that hold nothing else."""
        done = set(seqs)
        for segment in list(self._unreleased):
            waiting = self._unreleased[segment]
            waiting -= done
            if not waiting and segment != self._active:
                self._delete(segment)

    def set_aside(self, table: pa.Table) -> Path:
        """Keep a batch the store refused in ``refused/`` beside the log, for an operator to look
        at (``pyarrow.ipc.open_stream``), out of the way of the log's replay."""
        folder = self.path / "refused"
        folder.mkdir(exist_ok=True)
        path = folder / f"{time.time_ns()}.arrows"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, table_to_ipc(table))
            os.fsync(fd)
        finally:
            os.close(fd)
        return path

    async def write_or_set_aside(self, write: Callable[[pa.Table], Awaitable[int]], table: pa.Table) -> int | None:
        """Store a logged batch with ``write``: the rows written, or None when the store refused
        them (a bug, not an outage) and the batch was set aside. StorageUnavailable propagates:
        the batch stays in the log."""
        try:
            return await write(table)
        except StorageUnavailable:
            raise
        except Exception:
            log.exception("a logged batch of %d spans was refused by the store; set aside", table.num_rows)
            await asyncio.to_thread(self.set_aside, table)
            return None

    @property
    def unreleased(self) -> int:
        """Records appended and not yet in the store."""
        return sum(len(s) for s in self._unreleased.values())

    async def close(self) -> None:
        """Finish pending appends; delete the active segment if the store holds all of it."""
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)
        self._close_active()

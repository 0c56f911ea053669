"""Durable group commit with bounded memory.

Requests reserve their bytes when they arrive. Past the bound a request waits briefly in a
waiting room as large as the bound itself (first come, first served), so that a burst or the
herd of clients retrying together after an outage goes in instead of spending the few attempts
an SDK makes; when the room is full, the wait runs out, the store is down or its disk nearly
full, the request is refused (``Overloaded`` -> 503 / UNAVAILABLE with a retry hint) rather
than queued without end.
Decoded batches queue for one flusher task: while it writes, new batches gather, and its
next insert takes all of them, so concurrent requests coalesce into one insert without
any added delay. Each request waits for the insert holding its rows and is answered
only once that insert is committed.

With a write-ahead log (``otlp_receiver.wal``), a span batch that arrives while an insert is
running does not wait for it: it is appended to the log, fsynced, and acknowledged, and the next
insert takes it with everything else that came meanwhile (lingering up to ``linger_s`` for more
rows). It keeps its bytes of the in-flight bound until that insert commits, so the log is
bounded by the same bound; a failed insert of logged batches is retried, never reported to
clients that already have their answer. A batch that arrives when nothing is running is
inserted at once and answered after its insert, as without a log: at low load an acknowledged
span is readable when the answer arrives.

Batches name the table they go to (a lane: spans, logs, scores, metrics), or the job they are
(the Langfuse lane: batches of ingestion events, merged with what is stored): one bound and one
retry hint cover every write path, and a flush writes each lane's batches together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import pyarrow as pa

from otlp_receiver.wal import WriteAheadLog
from tracehouse.disk_reserve import DiskReserve
from tracehouse.errors import Overloaded, StorageUnavailable, TracehouseError
from tracehouse.telemetry import Telemetry

__all__ = ["Batcher", "Reservation", "Writer"]

log = logging.getLogger(__name__)

# Rows in one insert at most: a backlog (after an outage) goes in as inserts of bounded memory.
MAX_BATCH_ROWS = 32_768
COMMIT_TIMEOUT_S = 30.0
STORE_DOWN_BACKOFF_S = 1.0
# Clients honour Retry-After, and an OTel SDK gives up after 6 attempts: a hint that grows with
# the outage (1, 1, 2, 4, 8 ... s) keeps them retrying through a long one, with few requests.
MAX_RETRY_AFTER_S = 30.0
# About a few inserts: long enough for the in-flight bound to drain once, short next to an SDK's
# export timeout (10 s by default).
ADMISSION_WAIT_S = 2.0
# Logged batches wait up to this long for more rows, so that inserts grow under load; short
# enough that a span is readable well within a second of its acknowledgement.
LINGER_S = 0.25
# ... or until this many rows are waiting: about where a larger insert stops saving CPU per span.
LINGER_ROWS = 16_384
LOGGED_LANE = "spans"


class Writer(Protocol):
    async def write(self, batch: Any) -> int:
        """Store ``batch`` (an Arrow table, or for a job lane the list of its jobs); return once
        it is durable."""
        ...


class Job(Protocol):
    """A unit of a job lane: anything with a row count that its lane's writer knows how to apply."""

    @property
    def num_rows(self) -> int: ...


class Reservation:
    """Bytes a request holds against the in-flight bound until released (idempotent)."""

    def __init__(self, batcher: Batcher, nbytes: int) -> None:
        self._batcher = batcher
        self.nbytes = nbytes
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._batcher._release(self.nbytes)

    def transfer(self) -> Reservation:
        """A reservation holding these bytes from now on (this one releases nothing any more)."""
        nbytes = 0 if self._released else self.nbytes
        self._released = True
        return Reservation(self._batcher, nbytes)


@dataclass
class _Item:
    table: pa.Table | Job
    future: asyncio.Future[None]
    reservation: Reservation
    lane: str = "spans"
    seq: int | None = None  # its record in the write-ahead log: acknowledged already
    logged_at: float = 0.0
    serial: int = 0  # its place in the order of arrival


@dataclass
class _Stats:
    inserts: int = 0
    rows: int = 0
    largest_batch: int = 0
    failures: int = 0
    refused: int = 0
    logged: int = 0  # batches acknowledged from the write-ahead log
    set_aside: int = 0
    recent_batch_rows: list[int] = field(default_factory=list)


class Batcher:
    """Group commit in front of the store's writers. Use as an async context manager."""

    def __init__(
        self,
        writers: Mapping[str, Writer],
        max_inflight_bytes: int,
        max_batch_rows: int = MAX_BATCH_ROWS,
        commit_timeout_s: float = COMMIT_TIMEOUT_S,
        wal: WriteAheadLog | None = None,
        linger_s: float = LINGER_S,
        linger_rows: int = LINGER_ROWS,
        disk: DiskReserve | None = None,
    ) -> None:
        self._writers = writers
        self.disk = disk
        self.wal = wal
        self._linger_s = linger_s
        self._linger_rows = linger_rows
        self._busy = False  # an insert is running (or gathering rows for one)
        self._idle = asyncio.Event()
        self._idle.set()
        self._gave_up = False  # closing with logged batches the store would not take
        self.max_inflight_bytes = max_inflight_bytes
        self._max_batch_rows = max_batch_rows
        self._commit_timeout_s = commit_timeout_s
        self._inflight = 0
        self._waiters: list[tuple[int, asyncio.Future[Reservation]]] = []
        self._waiting = 0
        self._pending: list[_Item] = []
        self._serial = 0  # batches taken so far
        self._open: set[int] = set()  # serials of the batches not yet inserted (nor failed)
        self._progress = asyncio.Event()  # set whenever some of them are
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._down_until = 0.0
        self._trouble_since: float | None = None  # first failed insert of the current outage
        self._flush_started: float | None = None  # the running insert, for how long the store stalls
        self.stats = _Stats()
        self.telemetry: Telemetry | None = None

    @property
    def inflight_bytes(self) -> int:
        return self._inflight

    @property
    def waiting_bytes(self) -> int:
        """Bytes of requests waiting for room (never more than the in-flight bound)."""
        return self._waiting

    async def __aenter__(self) -> Batcher:
        self._task = asyncio.create_task(self._run(), name="tracehouse-batcher")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def retry_hint(self) -> float:
        """Seconds a refused client should wait: 1 while the store is healthy, else about as long
        as the store has been failing or the running insert has been stalled (at most 30)."""
        now = time.monotonic()
        started = [t for t in (self._trouble_since, self._flush_started) if t is not None]
        return min(MAX_RETRY_AFTER_S, max(1.0, now - min(started))) if started else 1.0

    def reserve(self, nbytes: int) -> Reservation:
        """Hold ``nbytes`` of the in-flight bound, or raise Overloaded / StorageUnavailable."""
        reservation = self._try_reserve(nbytes)
        if reservation is None:
            raise self._overloaded(
                f"too much data in flight ({self._inflight + nbytes} bytes > {self.max_inflight_bytes})"
            )
        return reservation

    def _try_reserve(self, nbytes: int) -> Reservation | None:
        if self._closing:
            raise StorageUnavailable("the server is shutting down", retry_after_s=2.0)
        if time.monotonic() < self._down_until:
            raise StorageUnavailable("the store is unavailable; retry shortly", retry_after_s=self.retry_hint())
        if self.disk is not None:
            self.disk.check()  # a nearly full disk: nothing new is taken (tracehouse.disk_reserve)
        # A request alone may always go in (the body limit bounds it), so no request waits forever;
        # nor may a newcomer pass those already waiting.
        if self._waiters or (self._inflight and self._inflight + nbytes > self.max_inflight_bytes):
            return None
        self._inflight += nbytes
        return Reservation(self, nbytes)

    def _overloaded(self, why: str) -> Overloaded:
        self.stats.refused += 1
        return Overloaded(f"{why}; retry after the hinted delay", retry_after_s=self.retry_hint())

    async def admit(self, nbytes: int, wait_s: float = ADMISSION_WAIT_S) -> Reservation:
        """Hold ``nbytes`` of the in-flight bound, waiting up to ``wait_s`` for room while the
        waiting room (as large as the bound) has space; else raise Overloaded / StorageUnavailable."""
        reservation = self._try_reserve(nbytes)
        if reservation is not None:
            return reservation
        if self._waiting + nbytes > self.max_inflight_bytes:
            raise self._overloaded(
                f"too much data in flight and waiting ({self._inflight} and {self._waiting + nbytes} bytes, "
                f"each bounded by {self.max_inflight_bytes})"
            )
        waiter: asyncio.Future[Reservation] = asyncio.get_running_loop().create_future()
        entry = (nbytes, waiter)
        self._waiters.append(entry)
        self._waiting += nbytes
        granted = False
        try:
            await asyncio.wait({waiter}, timeout=wait_s)  # leaves the waiter alone on a timeout
            granted = waiter.done()
        finally:
            self._waiting -= nbytes
            if entry in self._waiters:
                self._waiters.remove(entry)
            if not granted:
                if waiter.done():
                    waiter.result().release()  # cancelled (the client left) just as room came
                else:
                    waiter.cancel()
            self._grant()  # a waiter that gave up may have blocked smaller ones behind it
        if granted:
            return waiter.result()
        raise self._overloaded(
            f"no room for {nbytes} bytes within {wait_s:.0f} s "
            f"({self._inflight} of {self.max_inflight_bytes} in flight)"
        )

    def _release(self, nbytes: int) -> None:
        self._inflight -= nbytes
        self._grant()

    def _grant(self) -> None:
        """Let waiters in, first come first served, while their bytes fit."""
        while self._waiters and not self._closing:
            nbytes, waiter = self._waiters[0]
            if waiter.done():
                self._waiters.pop(0)
                continue
            if self._inflight and self._inflight + nbytes > self.max_inflight_bytes:
                return
            self._waiters.pop(0)
            self._inflight += nbytes
            waiter.set_result(Reservation(self, nbytes))

    async def commit(self, table: pa.Table | Job, reservation: Reservation, lane: str = "spans") -> None:
        """Queue ``table`` for the ``lane`` writer and return once it is committed (or raise why not)."""
        if lane not in self._writers:
            raise ValueError(f"no writer for {lane!r}")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.wal is not None and lane == LOGGED_LANE and self._busy and isinstance(table, pa.Table):
            # It would wait for the running insert: log it and answer now; the next insert takes it.
            try:
                seq = await self.wal.append(table)
            except OSError as exc:
                raise StorageUnavailable(f"the write-ahead log could not be written ({exc}); retry") from None
            future.set_result(None)
            held = reservation.transfer()  # until the insert commits: the log is bounded by the bound
            self._pending.append(_Item(table, future, held, lane, seq, time.monotonic(), self._next_serial()))
            self._idle.clear()
            self._wakeup.set()
            self.stats.logged += 1
            self._count_log()
            return
        self._pending.append(_Item(table, future, reservation, lane, serial=self._next_serial()))
        self._idle.clear()
        self._wakeup.set()
        try:
            await asyncio.wait_for(asyncio.shield(future), self._commit_timeout_s)
        except TimeoutError:
            raise StorageUnavailable(
                f"the store did not commit within {self._commit_timeout_s:.0f} s; retry (duplicates are dropped)"
            ) from None

    def _take(self) -> list[_Item]:
        items: list[_Item] = []
        rows = 0
        while self._pending and (not items or rows + self._pending[0].table.num_rows <= self._max_batch_rows):
            item = self._pending.pop(0)
            items.append(item)
            rows += item.table.num_rows
        return items

    def _next_serial(self) -> int:
        self._serial += 1
        self._open.add(self._serial)
        return self._serial

    def _done(self, items: list[_Item]) -> None:
        for item in items:
            self._open.discard(item.serial)
        self._progress.set()

    async def settled(self) -> None:
        """Return once nothing is queued or being inserted (every acknowledged row is readable)."""
        await self._idle.wait()

    async def caught_up(self, timeout_s: float) -> bool:
        """Wait until every batch taken before this call is inserted (or has failed), whatever
        comes in meanwhile; False if some are not within ``timeout_s`` (a stalled store)."""
        target = self._serial
        deadline = time.monotonic() + timeout_s
        while self._open and min(self._open) <= target:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._progress.clear()
            try:
                await asyncio.wait_for(self._progress.wait(), left)
            except TimeoutError:
                return False
        return True

    async def _run(self) -> None:
        while True:
            if not self._pending or self._gave_up:
                self._busy = False
                self._idle.set()
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            self._busy = True
            await self._linger()
            items = self._take()
            await self._flush(items)

    async def _linger(self) -> None:
        """While only logged batches wait (nobody waits for their insert), wait a little for more."""
        while not self._closing and self._pending and all(i.seq is not None for i in self._pending):
            rows = sum(i.table.num_rows for i in self._pending)
            left = self._pending[0].logged_at + self._linger_s - time.monotonic()  # logged_at's clock
            if rows >= self._linger_rows or left <= 0:
                return
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), left)

    async def _flush(self, items: list[_Item]) -> None:
        lanes: dict[str, list[_Item]] = {}
        for item in items:
            lanes.setdefault(item.lane, []).append(item)
        for lane, lane_items in lanes.items():
            await self._flush_lane(lane, lane_items)

    async def _flush_lane(self, lane: str, items: list[_Item]) -> None:
        batch: Any
        if not isinstance(items[0].table, pa.Table):
            batch = [i.table for i in items]  # a job lane: its writer applies the jobs together
        elif len(items) == 1:
            batch = items[0].table
        else:
            batch = pa.concat_tables([i.table for i in items])  # type: ignore[misc]
        rows = sum(i.table.num_rows for i in items)
        error: BaseException | None = None
        started = self._flush_started = time.monotonic()
        try:
            await self._writers[lane].write(batch)
        except TracehouseError as exc:
            error = exc
            if isinstance(exc, StorageUnavailable):
                self._down_until = time.monotonic() + STORE_DOWN_BACKOFF_S
                if self._trouble_since is None:
                    self._trouble_since = started
                    # Once an outage: clients see 503s, and the operator must see why (a full disk).
                    log.warning("the store refuses inserts (%s); clients are asked to retry until it takes them", exc)
                exc.retry_after_s = self.retry_hint()
        except Exception as exc:  # a bug or data the store refused: fail these requests, keep serving
            log.exception("insert of %d %s rows failed", rows, lane)
            error = exc
        self._flush_started = None
        if error is None and self._trouble_since is not None:
            log.warning("the store takes inserts again, after %.0f s", time.monotonic() - self._trouble_since)
            self._trouble_since = None
        self.stats.inserts += 1
        if self.telemetry is not None and error is None:
            self.telemetry.batch_rows.observe(rows)
            self.telemetry.commit_seconds.observe(time.monotonic() - started)
        if error is None:
            self.stats.rows += rows
            self.stats.largest_batch = max(self.stats.largest_batch, rows)
        else:
            self.stats.failures += 1
        logged = [i for i in items if i.seq is not None]
        if logged and self.wal is not None:
            if error is None:
                self.wal.release([i.seq for i in logged if i.seq is not None])
                self._count_log()
            else:
                # Their senders have their answer: these rows must go in, whatever it takes.
                await self._retry_logged(lane, logged, error)
                items = [i for i in items if i.seq is None]
        self._done(items)
        for item in items:
            item.reservation.release()
            if not item.future.done():
                if error is None:
                    item.future.set_result(None)
                else:
                    item.future.set_exception(error)
            if item.future.done() and not item.future.cancelled():
                item.future.exception()  # retrieved: no "exception never retrieved" noise on timeouts

    async def _retry_logged(self, lane: str, logged: list[_Item], error: BaseException) -> None:
        """A failed insert of logged batches. While the store is unavailable they go back to the
        head of the queue (after a pause) and stay in the log; rows the store refuses are tried
        batch by batch, and a batch refused alone is set aside in the log's directory."""
        if isinstance(error, StorageUnavailable):
            self._pending[:0] = logged
            if self._closing:
                self._gave_up = True  # they stay in the log and are replayed at the next start
                log.warning("stopping with %d logged batches not inserted; they are replayed at start", len(logged))
                return
            await asyncio.sleep(STORE_DOWN_BACKOFF_S)
            return
        assert self.wal is not None
        for item in logged:
            try:
                written = await self.wal.write_or_set_aside(self._writers[lane].write, cast(pa.Table, item.table))
            except StorageUnavailable:
                self._pending.insert(0, item)
                continue
            if written is None:
                self.stats.set_aside += 1
                if self.telemetry is not None:
                    self.telemetry.wal_set_aside.inc()
            assert item.seq is not None
            self.wal.release([item.seq])
            item.reservation.release()
            self._done([item])
        self._count_log()

    def _count_log(self) -> None:
        if self.telemetry is not None and self.wal is not None:
            self.telemetry.wal_bytes.set(self.wal.bytes_on_disk)
            self.telemetry.wal_batches.set(self.wal.unreleased)

    async def close(self) -> None:
        """Stop taking requests, commit what is queued, then stop."""
        self._closing = True
        for _, waiter in self._waiters:  # no one is let in any more: they retry elsewhere or later
            if not waiter.done():
                waiter.set_exception(StorageUnavailable("the server is shutting down", retry_after_s=2.0))
        self._wakeup.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

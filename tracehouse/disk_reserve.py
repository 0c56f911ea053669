"""Free space kept on the data directory's disk for the store's own work.

A store on a full disk cannot merge its parts, record a sign-in, make a key or delete a project
to make room: ClickHouse needs space for all of them. So new telemetry (spans, logs, metrics,
Langfuse events, media) is refused with a retry hint while less than the reserve is free, and
everything else keeps working, so that an operator can free space from the UI (retention, a
project deleted) as well as from the shell. Only the embedded store has a disk of ours; a
ClickHouse server keeps its own (``min_free_disk_bytes_to_perform_insert``).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from tracehouse.errors import LowDisk

__all__ = ["DiskReserve", "DiskState"]

log = logging.getLogger(__name__)

# statvfs is cheap, but ingest asks on every request: once a second is soon enough for a disk.
CHECK_EVERY_S = 1.0


class _Usage(NamedTuple):
    total: int
    used: int
    free: int


@dataclass(frozen=True)
class DiskState:
    """What the last check saw: bytes free and in all on the data directory's file system."""

    directory: str
    free: int
    total: int
    reserve: int

    @property
    def low(self) -> bool:
        return self.free < self.reserve


class DiskReserve:
    """Watches the free space of ``directory``'s file system against ``reserve_bytes``."""

    def __init__(
        self,
        directory: Path,
        reserve_bytes: int,
        usage: Callable[[Path], _Usage] = shutil.disk_usage,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.reserve_bytes = reserve_bytes
        self._usage = usage
        self._clock = clock
        self._checked_at = -CHECK_EVERY_S
        self._state: DiskState | None = None
        self.refused = 0  # writes refused so far

    def state(self) -> DiskState:
        """The free space, looked up at most once a second; a change of side is logged."""
        now = self._clock()
        if self._state is None or now - self._checked_at >= CHECK_EVERY_S:
            usage = self._usage(self.directory)
            state = DiskState(str(self.directory), usage.free, usage.total, self.reserve_bytes)
            if state.low and not (self._state and self._state.low):
                log.error(
                    "%s has %s free, less than the %s reserve: new data is refused until space is freed "
                    "(TRACEHOUSE_MIN_FREE_DISK_BYTES sets the reserve; 0 turns it off)",
                    state.directory, _mb(state.free), _mb(state.reserve),
                )  # fmt: skip
            elif self._state and self._state.low and not state.low:
                log.warning("%s has %s free again: new data is taken", state.directory, _mb(state.free))
            self._state, self._checked_at = state, now
        return self._state

    def check(self) -> None:
        """Raise LowDisk while less than the reserve is free."""
        state = self.state()
        if state.low:
            self.refused += 1
            free, reserve = _mb(state.free), _mb(state.reserve)
            raise LowDisk(
                f"the server's disk has {free} free, less than the {reserve} it keeps for "
                "the store's own work: new data is refused until its admin frees space"
            )


def _mb(nbytes: int) -> str:
    return f"{nbytes / 2**20:,.0f} MB"

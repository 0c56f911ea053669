"""Backups on a schedule, kept for a while (``backup_dir``): the server backs its embedded store
up by itself, as ``tracehouse backup`` does, without a cron job.

Every ``every`` a new backup is made in ``<backup_dir>/<UTC time>``: a whole one first, then on
the newest backup until a chain holds ``whole_every`` backups, then a whole one again. After each,
the backups not needed to restore the newest ``keep`` are deleted (a kept backup's bases are kept
with it). Only directories holding a backup's manifest are ever deleted, and those the schedule
itself named that never got one (a backup cut short by a kill or a power cut); anything else in
``backup_dir`` is left alone. A backup that fails is logged and tried again a little later: it
leaves nothing behind (``storage.backup``), and the older backups stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.backup import MANIFEST, back_up, chain, read_manifest, tree_bytes
from storage.store import Store
from tracehouse.errors import InvalidInput

__all__ = ["BackupSchedule", "Schedule"]

log = logging.getLogger(__name__)

NAME_FORMAT = "%Y%m%dT%H%M%SZ"
# The names NAME_FORMAT makes (with the microseconds added when two fall in one second).
_OUR_NAME = re.compile(r"\d{8}T\d{6}Z(-\d{6})?")
# Due "at any time": no backup yet.
ANY_TIME = dt.datetime.min.replace(tzinfo=dt.UTC)
# A failed backup is tried again after this (or after ``every``, if sooner).
RETRY = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Schedule:
    """What the settings ask for."""

    directory: Path
    every: dt.timedelta
    keep: int
    whole_every: int


@dataclass(frozen=True)
class Held:
    """A backup found in the directory."""

    path: Path
    created_at: dt.datetime
    base: Path | None


def held(directory: Path) -> list[Held]:
    """The backups in ``directory``, oldest first (directories without a readable manifest are
    not backups and are left out)."""
    found = []
    if not directory.is_dir():
        return []
    for entry in directory.iterdir():
        if not (entry / MANIFEST).is_file():
            continue
        try:
            manifest = read_manifest(entry)
            created = dt.datetime.fromisoformat(manifest["created_at"])
        except (InvalidInput, KeyError, TypeError, ValueError):
            continue
        base = Path(manifest["base"]) if manifest.get("base") else None
        found.append(Held(entry.absolute(), created, base))
    return sorted(found, key=lambda b: (b.created_at, b.path.name))


def cut_short(directory: Path) -> list[Path]:
    """The directories in ``directory`` that a scheduled backup began and never finished: named as
    the schedule names them, without a manifest (written last). Only a kill or a power cut leaves
    one: a backup that fails removes what it copied."""
    if not directory.is_dir():
        return []
    return sorted(
        entry.absolute() for entry in directory.iterdir()
        if _OUR_NAME.fullmatch(entry.name) and entry.is_dir() and not (entry / MANIFEST).exists()
    )  # fmt: skip


def unneeded(backups: list[Held], keep: int) -> list[Held]:
    """Of ``backups`` (oldest first), those that restoring none of the newest ``keep`` needs."""
    by_path = {b.path: b for b in backups}
    needed: set[Path] = set()
    for b in backups[-keep:]:
        here: Held | None = b
        while here is not None and here.path not in needed:
            needed.add(here.path)
            here = by_path.get(here.base) if here.base is not None else None
    return [b for b in backups if b.path not in needed]


class BackupSchedule:
    """Makes the backups a :class:`Schedule` asks for, while the server runs."""

    def __init__(
        self,
        store: Store,
        schedule: Schedule,
        clock: Callable[[], dt.datetime] | None = None,
        on_done: Callable[[dt.datetime | None], None] | None = None,
    ) -> None:
        """``on_done``: told the time of each backup made, or None for one that failed."""
        self.store = store
        self.schedule = schedule
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._on_done = on_done or (lambda _: None)
        self._failed_at: dt.datetime | None = None
        self._made_at: dt.datetime | None = None
        self.last: dict[str, Any] | None = None  # the last backup made, as ``back_up`` reports it
        self.last_error: str | None = None
        self._sizes: dict[Path, int] = {}  # finished backups' sizes, by path

    def due(self, backups: list[Held] | None = None) -> dt.datetime:
        """When the next backup is due: at once if there is none, else ``every`` after the newest (a
        failure moves it to a retry a little later). ``backups``: those held, if already listed."""
        backups = held(self.schedule.directory) if backups is None else backups
        # The newest backup's own time, or (if later) when this schedule last made one by its clock.
        times = [b.created_at for b in backups[-1:]] + ([self._made_at] if self._made_at else [])
        due = max(times) + self.schedule.every if times else ANY_TIME
        if self._failed_at is not None:
            due = max(due, self._failed_at + min(RETRY, self.schedule.every))
        return due

    def status(self) -> dict[str, Any]:
        """What the schedule asks for and holds, for the server's admin: the backups kept (newest
        first, each with what it is made on and its size), when the next is due, the last failure."""
        backups = held(self.schedule.directory)
        # A backup with its manifest is finished and never changes: its size is walked once (and
        # forgotten with it).
        self._sizes = {b.path: self._sizes.get(b.path) or tree_bytes(b.path) for b in backups}
        due = self.due(backups)
        return {
            "directory": str(self.schedule.directory),
            "everyHours": self.schedule.every.total_seconds() / 3600,
            "keep": self.schedule.keep,
            "wholeEvery": self.schedule.whole_every,
            "backups": [self._listed(b) for b in reversed(backups)],
            "nextDue": None if due == ANY_TIME else due.isoformat(),
            "lastError": self.last_error,
            "failedAt": self._failed_at.isoformat() if self._failed_at else None,
        }

    def _listed(self, b: Held) -> dict[str, Any]:
        base = b.base.name if b.base else None
        return {"name": b.path.name, "createdAt": b.created_at.isoformat(), "base": base, "bytes": self._sizes[b.path]}

    async def run_once(self) -> dict[str, Any] | None:
        """Make a backup if one is due, then delete those no longer needed; what was made, or None."""
        now = self._clock()
        if now < self.due():
            return None
        directory = self.schedule.directory
        # What a backup cut short left goes first: it is never restorable, and holds disk.
        for left in await asyncio.to_thread(cut_short, directory):
            await asyncio.to_thread(shutil.rmtree, left, True)
            log.warning("deleted %s: a scheduled backup cut short (the server stopped mid-way)", left)
        backups = await asyncio.to_thread(held, directory)
        base = None
        if backups and self.schedule.whole_every > 1:
            with contextlib.suppress(InvalidInput):  # a broken chain: start a whole one
                if len(await asyncio.to_thread(chain, backups[-1].path)) < self.schedule.whole_every:
                    base = backups[-1].path
        dest = directory / now.strftime(NAME_FORMAT)
        if dest.exists():  # two in one second (a retry): never into an existing directory
            dest = directory / (now.strftime(NAME_FORMAT) + f"-{now.microsecond:06d}")
        try:
            await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
            made = await back_up(self.store, dest, base)
        except (InvalidInput, OSError) as exc:
            self._failed_at = now
            self.last_error = str(exc.message if isinstance(exc, InvalidInput) else exc)
            log.error("scheduled backup into %s failed: %s; trying again later", dest, self.last_error)
            self._on_done(None)
            return None
        self._failed_at, self.last_error, self.last, self._made_at = None, None, made, now
        self._on_done(dt.datetime.fromisoformat(made["created_at"]))
        kind = f"on {made['base']}" if made.get("base") else "whole"
        log.info("scheduled backup in %s (%s, %d MB, %.1f s)", dest, kind, made["bytes"] >> 20, made["seconds"])
        for old in unneeded(await asyncio.to_thread(held, directory), self.schedule.keep):
            await asyncio.to_thread(shutil.rmtree, old.path, True)
            log.info("deleted the backup in %s (not needed by the newest %d)", old.path, self.schedule.keep)
        return made

    async def run(self) -> None:
        """Back up whenever due, until cancelled."""
        while True:
            wait = (self.due() - self._clock()).total_seconds()
            if wait > 0:
                await asyncio.sleep(min(wait, 3600.0))  # a clock moved by hand is noticed within the hour
                continue
            made = None
            try:
                made = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # never stop the schedule, nor the server: log, and try again later
                log.exception("scheduled backup failed")
                self._failed_at = self._clock()
                self._on_done(None)
            if made is None:
                await asyncio.sleep(1.0)  # never spin, whatever the clock says

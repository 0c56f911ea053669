"""A copy of the embedded store taken while it serves (``tracehouse backup``), and a new data
directory made from one (``tracehouse restore``).

The database is copied by ClickHouse's own BACKUP on the store's writer thread: every insert and
statement before it has committed whole (a span insert's summaries with it) and none starts until
it ends. Reads go on meanwhile, and OTLP exports are still acknowledged into the write-ahead log.
At that same moment, on that thread, the write-ahead log and the insert journal are copied: spans
acknowledged but not yet inserted, which a server started on the restored directory inserts once
(the span writer skips what is already stored). So the copy holds everything acknowledged before
the backup began. The rest of the data directory (media files, the encryption key) is copied
after: files that never change once written.

A backup is a directory: ``clickhouse/`` (ClickHouse's backup of the database), the copied files,
and ``tracehouse-backup.json``, written last, so a directory without it is not a whole backup.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from storage.backends.dirlock import LOCK_NAME
from storage.backends.embedded import ENGINE_DIR, EmbeddedBackend
from storage.journal import JOURNAL_DIR, WAL_DIR
from storage.migrations import schema_version
from storage.store import Store
from tracehouse.errors import InvalidInput
from tracehouse.runtime import RUNTIME_FILE

__all__ = ["MANIFEST", "back_up", "read_manifest", "restore"]

MANIFEST = "tracehouse-backup.json"
CLAIM = ".tracehouse-backup-in-progress"  # in the backup's directory while it is written
# Copied at the database's moment: what was acknowledged and not yet inserted.
AT_THE_MOMENT = (WAL_DIR, JOURNAL_DIR)
# Never copied: the engine (ClickHouse backs it up), this process's lock and address.
NOT_COPIED = {ENGINE_DIR, LOCK_NAME, RUNTIME_FILE}
FORMAT = 1
# Room kept beyond the copy's own size: the write-ahead log grows while a backup is taken, and a
# disk filled to the last byte fails everything else on it too.
RESERVE = 64 * 1024 * 1024


def _copy_tree(source: Path, target: Path) -> None:
    """Copy the file ``source``, or the directory with everything under it, to ``target``; a file
    gone meanwhile (a log segment inserted and deleted, a media file erased) is skipped."""
    if source.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            shutil.copyfile(source, target)
        return
    for root, _, files in os.walk(source):
        here = target / Path(root).relative_to(source)
        here.mkdir(parents=True, exist_ok=True)
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                shutil.copyfile(Path(root) / name, here / name)


def _entries(data_dir: Path, names: Iterable[str] | None = None) -> list[Path]:
    if names is not None:
        return [data_dir / n for n in names if (data_dir / n).exists()]
    return sorted(p for p in data_dir.iterdir() if p.name not in NOT_COPIED and p.name not in AT_THE_MOMENT)


def _size(directory: Path, skip: Iterable[str] = ()) -> int:
    """The bytes of the files under ``directory`` (its top-level entries in ``skip`` left out)."""
    total = 0
    for entry in directory.iterdir():
        if entry.name in skip:
            continue
        paths = [entry] if entry.is_file() else [Path(r) / n for r, _, files in os.walk(entry) for n in files]
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
    return total


def _free(path: Path) -> int:
    """Free bytes on the disk that holds ``path`` (or would: its nearest existing parent)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return shutil.disk_usage(path).free


def _check_room(needed: int, dest: Path) -> None:
    """Refuse a copy the disk cannot hold before writing any of it: failing when the disk fills
    would take minutes to say so, and leave the disk full for the server meanwhile."""
    free = _free(dest)
    if free < needed + RESERVE:
        needed_mb, free_mb = -(-needed // 2**20), free // 2**20
        raise InvalidInput(
            f"{dest} is on a disk with {free_mb} MB free: the copy needs about {needed_mb} MB "
            "(and 64 MB to spare); free some space or choose another disk"
        )


def _check_destination(dest: Path, data_dir: Path) -> None:
    if dest == data_dir or dest.is_relative_to(data_dir) or data_dir.is_relative_to(dest):
        raise InvalidInput(f"back up to a directory outside the data directory {data_dir}, not {dest}")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InvalidInput(f"{dest} already exists and is not an empty directory: back up to a new one")


def _start(dest: Path, data_dir: Path) -> tuple[Path, bool]:
    """The backup's directory, claimed for this backup; whether it was made for it."""
    dest = Path(dest).absolute()
    _check_destination(dest, data_dir)
    created = not dest.exists()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InvalidInput(f"cannot make the backup's directory {dest}: {reason}") from None
    try:
        # Created only if absent: of two backups into one directory, the second is refused (and
        # so never removes the first one's files when it fails).
        (dest / CLAIM).open("x").close()
    except FileExistsError:
        raise InvalidInput(f"{dest} already exists and is not an empty directory: back up to a new one") from None
    try:
        _check_room(_size(data_dir, NOT_COPIED - {ENGINE_DIR}), dest)
    except InvalidInput:
        _undo(dest, created)
        raise
    return dest, created


def _finish(dest: Path, data_dir: Path, manifest: dict[str, Any]) -> int:
    """Copy the rest of the data directory, then the manifest once all is on disk; the bytes in
    the backup."""
    for entry in _entries(data_dir):
        _copy_tree(entry, dest / entry.name)
    os.sync()  # the copy is on disk before the manifest says it is whole
    (dest / CLAIM).unlink()
    with open(dest / MANIFEST, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    return sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())


async def back_up(store: Store, dest: Path) -> dict[str, Any]:
    """Copy the embedded store (and its data directory's files) into ``dest``, a new or empty
    directory, while the store serves; the manifest's fields, with the time and bytes it took."""
    backend = store.backend
    if not isinstance(backend, EmbeddedBackend) or store.data_dir is None:
        raise InvalidInput(
            "only the embedded store is backed up here: back up a ClickHouse server with ClickHouse's "
            "own BACKUP DATABASE, beside the encryption key and the media bucket"
        )
    data_dir = await asyncio.to_thread(store.data_dir.resolve)
    started = time.perf_counter()
    dest, created = await asyncio.to_thread(_start, dest, data_dir)

    def at_the_moment() -> None:
        for entry in _entries(data_dir, AT_THE_MOMENT):
            _copy_tree(entry, dest / entry.name)

    try:
        await backend.backup(dest / ENGINE_DIR, at_the_moment)
        manifest = {
            "format": FORMAT,
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "schema_version": await schema_version(backend),
            "data_dir": str(data_dir),
        }
        size = await asyncio.to_thread(_finish, dest, data_dir, manifest)
    except BaseException:
        await asyncio.to_thread(_undo, dest, created)  # half a backup must not pass for one
        raise
    return {**manifest, "path": str(dest), "seconds": round(time.perf_counter() - started, 3), "bytes": size}


def read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of the backup in ``source``; a clear error when it is not a whole backup."""
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(
            f"{source} is not a whole tracehouse backup (no {MANIFEST}): 'tracehouse backup' writes one"
        ) from None
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{source}: its {MANIFEST} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not (source / ENGINE_DIR).is_dir():
        raise InvalidInput(f"{source} is not a tracehouse backup this release reads (format {FORMAT})")
    return manifest


def _restore_start(source: Path, data_dir: Path) -> tuple[Path, Path, dict[str, Any], bool]:
    source, data_dir = source.absolute(), data_dir.absolute()
    manifest = read_manifest(source)
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise InvalidInput(f"{data_dir} already exists and is not empty: restore into a new directory")
    _check_room(_size(source, {MANIFEST}), data_dir)
    created = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    return source, data_dir, manifest, created


def _restore_files(source: Path, data_dir: Path) -> None:
    for entry in sorted(source.iterdir()):
        if entry.name not in (ENGINE_DIR, MANIFEST):
            _copy_tree(entry, data_dir / entry.name)
    os.sync()


def _undo(directory: Path, created: bool) -> None:
    """Nothing half-made stays behind (a directory made for it goes, one given keeps to itself)."""
    if created:
        shutil.rmtree(directory, ignore_errors=True)
        return
    for entry in directory.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


async def restore(source: Path, data_dir: Path) -> dict[str, Any]:
    """Make ``data_dir`` (new or empty) from the backup in ``source``; ``tracehouse serve`` on it
    then applies any newer migrations and inserts the spans its write-ahead log holds."""
    source, data_dir, manifest, created = await asyncio.to_thread(_restore_start, Path(source), Path(data_dir))
    try:
        backend = EmbeddedBackend.open(data_dir)
        try:
            await backend.restore(source / ENGINE_DIR)
        finally:
            await backend.close()
        await asyncio.to_thread(_restore_files, source, data_dir)
    except BaseException:
        await asyncio.to_thread(_undo, data_dir, created)
        raise
    return {**manifest, "path": str(data_dir), "from": str(source)}

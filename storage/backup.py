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

A backup made on a *base* (an earlier backup) holds only what changed since: ClickHouse's parts
not in the base (``base_backup``), and the files the base's chain does not hold as they are now.
Its manifest names the base and lists every file of the data directory at that moment, so a
restore takes each from the newest backup of the chain that holds it; the bases must stay where
they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from storage.backends.dirlock import LOCK_NAME
from storage.backends.embedded import ENGINE_DIR, EmbeddedBackend
from storage.journal import JOURNAL_DIR, WAL_DIR
from storage.migrations import schema_version
from storage.store import Store
from tracehouse.errors import InvalidInput
from tracehouse.runtime import RUNTIME_FILE

__all__ = ["MANIFEST", "back_up", "chain", "read_manifest", "restore", "tree_bytes"]

MANIFEST = "tracehouse-backup.json"
CLAIM = ".tracehouse-backup-in-progress"  # in the backup's directory while it is written
# Copied at the database's moment: what was acknowledged and not yet inserted.
AT_THE_MOMENT = (WAL_DIR, JOURNAL_DIR)
# Never copied: the engine (ClickHouse backs it up), this process's lock and address.
NOT_COPIED = {ENGINE_DIR, LOCK_NAME, RUNTIME_FILE}
FORMAT = 1  # a whole backup
INCREMENTAL = 2  # what changed since its base, and the list of the data directory's files
# Room kept beyond the copy's own size: the write-ahead log grows while a backup is taken, and a
# disk filled to the last byte fails everything else on it too.
RESERVE = 64 * 1024 * 1024


def _files(directory: Path) -> Iterator[Path]:
    """Every file under ``directory`` (or ``directory`` itself, a file)."""
    if directory.is_file():
        yield directory
        return
    for root, _, names in os.walk(directory):
        for name in names:
            yield Path(root) / name


def _copy_file(source: Path, target: Path) -> bool:
    """Copy one file with its modification time (what a later backup on this one compares);
    whether it was there: a file gone meanwhile (a log segment inserted and deleted, a media file
    erased) is skipped."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copy2(source, target)
    except FileNotFoundError:
        return False
    return True


def _copy_tree(source: Path, target: Path) -> None:
    """Copy the file ``source``, or the directory with everything under it, to ``target``."""
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
    for path in _files(source):
        _copy_file(path, target / path.relative_to(source) if path != source else target)


def _entries(data_dir: Path, names: Iterable[str] | None = None) -> list[Path]:
    if names is not None:
        return [data_dir / n for n in names if (data_dir / n).exists()]
    return sorted(p for p in data_dir.iterdir() if p.name not in NOT_COPIED and p.name not in AT_THE_MOMENT)


def tree_bytes(directory: Path, skip: Iterable[str] = ()) -> int:
    """The bytes of the files under ``directory`` (its top-level entries in ``skip`` left out)."""
    total = 0
    for entry in directory.iterdir():
        if entry.name in skip:
            continue
        for path in _files(entry):
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
    whole = isinstance(manifest, dict) and (source / ENGINE_DIR).is_dir()
    if whole and manifest.get("format") == INCREMENTAL:
        whole = isinstance(manifest.get("base"), str) and isinstance(manifest.get("files"), list)
    if not whole or manifest.get("format") not in (FORMAT, INCREMENTAL):
        raise InvalidInput(f"{source} is not a tracehouse backup this release reads (format 1 or 2)")
    return manifest


def chain(source: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The backup in ``source`` and the ones it was made on, newest first, with their manifests; a
    clear error when one is not there (a backup on a base needs it where it was)."""
    found: list[tuple[Path, dict[str, Any]]] = []
    here = source.absolute()
    while True:
        manifest = read_manifest(here)
        found.append((here, manifest))
        if manifest["format"] != INCREMENTAL:
            return found
        base = Path(manifest["base"])
        if any(base == p for p, _ in found):
            raise InvalidInput(f"{here} is made on {base}, which is made on it: not a backup this release reads")
        if not (base / MANIFEST).is_file():
            raise InvalidInput(
                f"{here} holds what changed since the backup in {base}, which is not there: "
                "put that backup back where it was (and any it was made on), then try again"
            )
        here = base


def _held(relative: Path, backups: list[tuple[Path, dict[str, Any]]]) -> Path | None:
    """The copy of the data directory's file ``relative`` in the newest backup of ``backups`` that
    holds it (files a backup on a base left out are in the base)."""
    for path, _ in backups:
        if (path / relative).is_file():
            return path / relative
    return None


def _check_destination(dest: Path, data_dir: Path, base: Path | None) -> None:
    if dest == data_dir or dest.is_relative_to(data_dir) or data_dir.is_relative_to(dest):
        raise InvalidInput(f"back up to a directory outside the data directory {data_dir}, not {dest}")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InvalidInput(f"{dest} already exists and is not an empty directory: back up to a new one")
    if base is not None and (dest == base or dest.is_relative_to(base)):
        raise InvalidInput(f"back up to a directory outside the base backup {base}, not {dest}")


def _needed(data_dir: Path, backups: list[tuple[Path, dict[str, Any]]]) -> int:
    """About the bytes a backup of ``data_dir`` on ``backups`` (none: a whole one) will hold."""
    engine = tree_bytes(data_dir / ENGINE_DIR) if (data_dir / ENGINE_DIR).is_dir() else 0
    files = 0
    for entry in _entries(data_dir) + _entries(data_dir, AT_THE_MOMENT):
        for path in _files(entry):
            with contextlib.suppress(FileNotFoundError):
                stat = path.stat()
                if not _unchanged(path, stat, data_dir, backups):
                    files += stat.st_size
    if backups:
        # The parts written since the base, about: merges may rewrite older ones too.
        engine = max(0, engine - int(backups[0][1].get("engine_bytes", 0)))
    return engine + files


def _unchanged(path: Path, stat: os.stat_result, data_dir: Path, backups: list[tuple[Path, dict[str, Any]]]) -> bool:
    """Whether the base's chain holds this file as it is (same size and modification time)."""
    if not backups or path.relative_to(data_dir).parts[0] in AT_THE_MOMENT:
        return False
    held = _held(path.relative_to(data_dir), backups)
    if held is None:
        return False
    copy = held.stat()
    return copy.st_size == stat.st_size and copy.st_mtime_ns == stat.st_mtime_ns


def _start(dest: Path, data_dir: Path, base: Path | None) -> tuple[Path, bool, list[tuple[Path, dict[str, Any]]]]:
    """The backup's directory, claimed for this backup; whether it was made for it; the base's
    chain (none for a whole backup)."""
    dest = Path(dest).absolute()
    base = None if base is None else Path(base).absolute()
    backups = chain(base) if base is not None else []
    _check_destination(dest, data_dir, base)
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
        _check_room(_needed(data_dir, backups), dest)
    except InvalidInput:
        _undo(dest, created)
        raise
    return dest, created, backups


def _finish(dest: Path, data_dir: Path, manifest: dict[str, Any], backups: list[tuple[Path, dict[str, Any]]]) -> int:
    """Copy the rest of the data directory (on a base, what its chain does not hold as it is),
    then the manifest once all is on disk; the bytes in the backup."""
    listed: list[str] = []
    for entry in _entries(data_dir):
        if entry.is_dir():
            (dest / entry.name).mkdir(parents=True, exist_ok=True)
        for path in _files(entry):
            relative = path.relative_to(data_dir)
            try:
                kept = bool(backups) and _unchanged(path, path.stat(), data_dir, backups)
            except FileNotFoundError:
                continue
            if kept or _copy_file(path, dest / relative):
                listed.append(relative.as_posix())
    if backups:
        manifest["files"] = listed
    os.sync()  # the copy is on disk before the manifest says it is whole
    (dest / CLAIM).unlink()
    with open(dest / MANIFEST, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    return tree_bytes(dest)


async def back_up(store: Store, dest: Path, base: Path | None = None) -> dict[str, Any]:
    """Copy the embedded store (and its data directory's files) into ``dest``, a new or empty
    directory, while the store serves; on ``base`` (an earlier backup) only what changed since.
    The manifest's fields, with the time and bytes it took."""
    backend = store.backend
    if not isinstance(backend, EmbeddedBackend) or store.data_dir is None:
        raise InvalidInput(
            "only the embedded store is backed up here: back up a ClickHouse server with ClickHouse's "
            "own BACKUP DATABASE, beside the encryption key and the media bucket"
        )
    data_dir = await asyncio.to_thread(store.data_dir.resolve)
    started = time.perf_counter()
    dest, created, backups = await asyncio.to_thread(_start, dest, data_dir, base)

    def at_the_moment() -> None:
        for entry in _entries(data_dir, AT_THE_MOMENT):
            _copy_tree(entry, dest / entry.name)

    try:
        engine_base = backups[0][0] / ENGINE_DIR if backups else None
        await backend.backup(dest / ENGINE_DIR, at_the_moment, engine_base)
        manifest: dict[str, Any] = {
            "format": INCREMENTAL if backups else FORMAT,
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "schema_version": await schema_version(backend),
            "data_dir": str(data_dir),
            # What a restore needs room for, and a backup on this one compares with.
            "engine_bytes": await asyncio.to_thread(tree_bytes, data_dir / ENGINE_DIR),
            "store_bytes": await asyncio.to_thread(tree_bytes, data_dir, NOT_COPIED - {ENGINE_DIR}),
        }
        if backups:
            manifest["base"] = str(backups[0][0])
        size = await asyncio.to_thread(_finish, dest, data_dir, manifest, backups)
    except BaseException:
        await asyncio.to_thread(_undo, dest, created)  # half a backup must not pass for one
        raise
    result = {**manifest, "path": str(dest), "seconds": round(time.perf_counter() - started, 3), "bytes": size}
    result.pop("files", None)
    return result


def _restore_start(source: Path, data_dir: Path) -> tuple[Path, Path, list[tuple[Path, dict[str, Any]]], bool]:
    source, data_dir = source.absolute(), data_dir.absolute()
    backups = chain(source)
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise InvalidInput(f"{data_dir} already exists and is not empty: restore into a new directory")
    manifest = backups[0][1]
    _check_room(int(manifest.get("store_bytes") or tree_bytes(source, {MANIFEST})), data_dir)
    created = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    return source, data_dir, backups, created


def _restore_files(backups: list[tuple[Path, dict[str, Any]]], data_dir: Path) -> None:
    source, manifest = backups[0]
    if manifest["format"] == INCREMENTAL:
        for name in AT_THE_MOMENT:
            if (source / name).exists():
                _copy_tree(source / name, data_dir / name)
        for relative in manifest["files"]:
            held = _held(Path(relative), backups)
            if held is None:
                raise InvalidInput(f"{relative} is in none of the backups {source} is made on")
            _copy_file(held, data_dir / relative)
    else:
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
    """Make ``data_dir`` (new or empty) from the backup in ``source`` (and those it was made on);
    ``tracehouse serve`` on it then applies any newer migrations and inserts the spans its
    write-ahead log holds."""
    source, data_dir, backups, created = await asyncio.to_thread(_restore_start, Path(source), Path(data_dir))
    try:
        backend = EmbeddedBackend.open(data_dir)
        try:
            await backend.restore(source / ENGINE_DIR)
        finally:
            await backend.close()
        await asyncio.to_thread(_restore_files, backups, data_dir)
    except BaseException:
        await asyncio.to_thread(_undo, data_dir, created)
        raise
    manifest = {k: v for k, v in backups[0][1].items() if k != "files"}
    return {**manifest, "path": str(data_dir), "from": str(source)}

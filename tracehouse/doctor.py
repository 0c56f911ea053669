"""``tracehouse doctor``: check the set-up and say clearly what is wrong."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import socket
import time
import urllib.request
from dataclasses import dataclass

from otlp_receiver.token_count import encodings_status
from storage import Store
from storage.backends.dirlock import is_locked
from storage.migrations import LATEST
from tracehouse import compiled
from tracehouse.errors import TracehouseError
from tracehouse.runtime import read_runtime
from tracehouse.settings import Settings

__all__ = ["Check", "run_checks"]

MIN_FREE_BYTES = 1 << 30
MAX_CLOCK_SKEW_S = 5.0


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


async def _store_checks(settings: Settings) -> list[Check]:
    checks = []
    try:
        store = await Store.open(
            data_dir=settings.data_dir,
            clickhouse_url=settings.clickhouse_url,
            server_options=settings.server_options,
            run_migrations=False,
        )
    except TracehouseError as exc:
        return [Check("store", False, exc.message)]
    except Exception as exc:  # noqa: BLE001 - the doctor reports, it does not crash
        return [Check("store", False, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")]
    try:
        where = "embedded store" if settings.embedded else "ClickHouse server"
        server_version, server_now = await store.server_clock()
        checks.append(Check("store", True, f"{where} reachable, ClickHouse {server_version}"))
        version = await store.schema_version()
        if version > LATEST:
            detail = f"version {version} is newer than this Tracehouse ({LATEST}): upgrade Tracehouse"
        elif version < LATEST:
            detail = f"version {version} of {LATEST}: the server applies the rest at start (or 'tracehouse migrate')"
        else:
            detail = f"version {version}, current"
        checks.append(Check("schema", version <= LATEST, detail))
        skew = abs(server_now - time.time())
        checks.append(
            Check(
                "clock",
                skew <= MAX_CLOCK_SKEW_S,
                f"{skew:.1f} s between this machine and the store"
                + ("" if skew <= MAX_CLOCK_SKEW_S else ": sync the clocks (NTP)"),
            )
        )
    finally:
        await store.close()
    return checks


def run_checks(settings: Settings) -> list[Check]:
    """Every check, in order; none raises."""
    checks: list[Check] = []
    running = settings.embedded and is_locked(settings.data_dir)
    if running:
        info = read_runtime(settings.data_dir)
        if info is None:
            checks.append(Check("server", False, f"{settings.data_dir} is locked but no server.json: starting?"))
        else:
            try:
                with urllib.request.urlopen(info.api_url + "/api/public/health", timeout=5) as r:
                    checks.append(Check("server", r.status == 200, f"pid {info.pid} answers at {info.api_url}"))
            except OSError as exc:
                checks.append(Check("server", False, f"pid {info.pid} holds the store but does not answer: {exc}"))
    else:
        checks += asyncio.run(_store_checks(settings))
        for name, port in (
            ("API port", settings.api_port),
            ("OTLP/HTTP port", settings.otlp_http_port),
            ("OTLP/gRPC port", settings.otlp_grpc_port),
        ):
            free = _port_free(settings.host, port)
            checks.append(
                Check(
                    name,
                    free,
                    f"{settings.host}:{port} "
                    + ("free" if free else "is in use by another program: pick another with its option"),
                )
            )
    # Informational: the pure-Python decoder works, it costs more CPU per span.
    checks.append(Check("span decoder", True, compiled.status()))
    checks.append(Check("token counts", True, encodings_status()))
    if settings.embedded:
        target = settings.data_dir if settings.data_dir.exists() else settings.data_dir.absolute().parent
        free = shutil.disk_usage(target).free
        reserve = settings.min_free_disk_bytes
        detail = f"{free / 2**30:.1f} GiB free for {settings.data_dir}"
        if reserve:
            detail += f", new data refused below {reserve / 2**20:,.0f} MiB"
        if free < reserve:
            detail += ": it is refused now, free some space"
        elif free < MIN_FREE_BYTES:
            detail += ": free some space"
        checks.append(Check("disk", free >= max(reserve, MIN_FREE_BYTES), detail))
    if settings.backup_dir is not None:
        checks.append(_backup_check(settings))
    return checks


def _backup_check(settings: Settings) -> Check:
    """Whether the scheduled backups keep coming (``backup_dir``)."""
    from storage.backup_schedule import held  # the embedded engine: only when backups are set

    assert settings.backup_dir is not None
    backups = held(settings.backup_dir)
    if not backups:
        return Check("backups", True, f"none yet in {settings.backup_dir}: the server makes the first when it starts")
    age_h = (dt.datetime.now(dt.UTC) - backups[-1].created_at).total_seconds() / 3600
    late = age_h > 2 * settings.backup_every_hours
    detail = f"{len(backups)} in {settings.backup_dir}, the newest {age_h:.1f} h old"
    return Check("backups", not late, detail + (": late, the server's log says why" if late else ""))

"""What the server's admin sees of the server itself: its scheduled backups (``backup_dir``) and
its disk's free space against the reserve (``min_free_disk_bytes``). Whether new data is refused
for want of space, anyone who may read a project sees (their traces stop arriving).

The schedule and the reserve live in the serving process (``tracehouse.server``); this only reads them.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from query_api.access import caller_for, session_user
from query_api.admin import STORE_KEY
from query_api.responses import json_response
from tracehouse.disk_reserve import DiskReserve
from tracehouse.errors import Forbidden, Unauthenticated

if TYPE_CHECKING:  # importing it loads the embedded engine, which a server on ClickHouse never needs
    from storage.backup_schedule import BackupSchedule

__all__ = ["BACKUPS_KEY", "DISK_KEY", "server_routes"]

# The running schedule, or None when the settings ask for none.
BACKUPS_KEY: web.AppKey[Any] = web.AppKey("backups", object)
# The data directory's reserve, or None (a ClickHouse server's disk, or the reserve turned off).
DISK_KEY: web.AppKey[DiskReserve | None] = web.AppKey("disk", object)


async def backups(request: web.Request) -> web.Response:
    """The scheduled backups, for the server's admin only (they are the whole server's, every
    organization's): ``{"scheduled": false}`` when none are, else what ``BackupSchedule.status`` says."""
    user = await session_user(request)
    if user is None:
        raise Unauthenticated("sign in to see the server's backups")
    if not user.is_admin:
        raise Forbidden("only the server's admin sees its backups")
    schedule: BackupSchedule | None = request.app.get(BACKUPS_KEY)
    if schedule is None:
        return json_response({"scheduled": False})
    return json_response({"scheduled": True, **await asyncio.to_thread(schedule.status)})


async def disk(request: web.Request) -> web.Response:
    """``{"watched": false}`` without a reserve; else whether new data is refused (``low``), for
    anyone who may read a project (a person, a key pair, open mode), and for the server's admin
    (or open mode, the machine's own user) the directory, its free and total bytes and the reserve."""
    caller = await caller_for(request, request.app[STORE_KEY])
    reserve = request.app.get(DISK_KEY)
    if reserve is None:
        return json_response({"watched": False})
    state = await asyncio.to_thread(reserve.state)
    doc: dict[str, Any] = {"watched": True, "low": state.low}
    if caller.open_mode or (caller.user is not None and caller.user.is_admin):
        doc |= {"directory": state.directory, "free": state.free, "total": state.total, "reserve": state.reserve}
    return json_response(doc)


def server_routes() -> list[web.RouteDef]:
    return [web.get("/api/v1/server/backups", backups), web.get("/api/v1/server/disk", disk)]

"""What the server's admin sees of the server itself: its scheduled backups (``backup_dir``).

The schedule runs in the serving process (``tracehouse.server``); this only reads it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from query_api.access import session_user
from query_api.responses import json_response
from tracehouse.errors import Forbidden, Unauthenticated

if TYPE_CHECKING:  # importing it loads the embedded engine, which a server on ClickHouse never needs
    from storage.backup_schedule import BackupSchedule

__all__ = ["BACKUPS_KEY", "server_routes"]

# The running schedule, or None when the settings ask for none.
BACKUPS_KEY: web.AppKey[Any] = web.AppKey("backups", object)


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


def server_routes() -> list[web.RouteDef]:
    return [web.get("/api/v1/server/backups", backups)]

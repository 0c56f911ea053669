"""Project and key administration for the CLI, wherever the store is.

With the embedded store held by a running ``tracehouse serve``, the commands go to that
server's admin endpoint on loopback (found through ``server.json``); otherwise they
open the store directly (the embedded directory, or a ClickHouse server, which many
processes may share).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from query_api.admin import key_json, organization_json, password_reset, project_json, user_json
from storage import Store
from storage.backends.dirlock import is_locked
from storage.backup import back_up
from tracehouse.errors import StorageUnavailable, StoreLocked, TracehouseError
from tracehouse.runtime import read_runtime
from tracehouse.settings import Settings

__all__ = ["admin"]

# operation -> (HTTP method, path template) on the admin endpoint
_ROUTES = {
    "list_organizations": ("GET", "/api/admin/organizations"),
    "create_organization": ("POST", "/api/admin/organizations"),
    "list_projects": ("GET", "/api/admin/projects"),
    "create_project": ("POST", "/api/admin/projects"),
    "delete_project": ("DELETE", "/api/admin/projects/{ref}"),
    "list_keys": ("GET", "/api/admin/keys"),
    "create_key": ("POST", "/api/admin/keys"),
    "revoke_key": ("POST", "/api/admin/keys/{public_key}/revoke"),
    "set_retention": ("POST", "/api/admin/projects/{ref}/retention"),
    "delete_data": ("DELETE", "/api/admin/data/{kind}/{id}"),
    "list_users": ("GET", "/api/admin/users"),
    "reset_password": ("POST", "/api/admin/users/password-reset"),
    "backup": ("POST", "/api/admin/backup"),
}
# A backup takes as long as the store is large; everything else answers in moments.
_NO_TIMEOUT = {"backup"}


async def _direct(store: Store, op: str, args: dict[str, Any], settings: Settings) -> Any:
    p = store.projects
    if op == "list_organizations":
        return {"data": [organization_json(o) for o in await store.organizations.list_organizations()]}
    if op == "create_organization":
        return organization_json(await store.organizations.create_organization(args["name"]))
    if op == "list_projects":
        return {"data": [project_json(x) for x in await p.list_projects()]}
    if op == "create_project":
        org = await store.organizations.get_organization(args.get("organization") or "default")
        return project_json(await p.create_project(args["name"], org.id, retention_days=args.get("retention_days", 0)))
    if op == "delete_project":
        return project_json(await store.lifecycle.delete_project(args["ref"]))
    if op == "list_keys":
        return {"data": [key_json(k) for k in await p.list_keys(args.get("project"))]}
    if op == "create_key":
        pair = await p.create_key(args["project"], args.get("note", ""))
        return {"public_key": pair.public_key, "secret_key": pair.secret_key, "project_id": pair.project_id}
    if op == "revoke_key":
        return key_json(await p.revoke_key(args["public_key"]))
    if op == "set_retention":
        return project_json(await store.lifecycle.set_retention(args["ref"], args["days"]))
    if op == "delete_data":
        return {"deleted_traces": await store.lifecycle.delete(args["project"], args["kind"], args["id"])}
    if op == "list_users":
        return {"data": [user_json(u) for u in await store.users.list_all()]}
    if op == "reset_password":
        return await password_reset(store, args["email"], _ui_url(settings))
    if op == "backup":
        return await back_up(store, Path(args["to"]), Path(args["base"]) if args.get("base") else None)
    raise ValueError(op)


def _ui_url(settings: Settings) -> str:
    """Where the UI will be, for a link made while no server runs: the public URL, else the
    address ``serve`` listens on with these settings."""
    if settings.public_url:
        return settings.public_url
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.api_port}"


class _RemoteError(TracehouseError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.http_status = status


async def _remote(api_url: str, token: str, op: str, args: dict[str, Any]) -> Any:
    method, template = _ROUTES[op]
    path_args = {k: v for k, v in args.items() if "{" + k + "}" in template}
    path = template.format(**{k: aiohttp.helpers.quote(str(v), safe="") for k, v in path_args.items()})
    body = {k: v for k, v in args.items() if k not in path_args}
    params = body if method in ("GET", "DELETE") else None
    json_body = body if method not in ("GET", "DELETE") else None
    if params:
        params = {k: str(v) for k, v in params.items() if v is not None}
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=None if op in _NO_TIMEOUT else 30)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, api_url + path, params=params, json=json_body, headers=headers) as response,
        ):
            payload = await response.json(content_type=None)
            if response.status >= 400:
                message = (payload or {}).get("error", {}).get("message", response.reason)
                raise _RemoteError(response.status, message)
            return payload
    except aiohttp.ClientError as exc:
        raise StorageUnavailable(f"cannot reach the running server at {api_url}: {exc}") from exc


async def admin(settings: Settings, op: str, **args: Any) -> Any:
    """Run one admin operation and return its JSON-shaped result."""
    if settings.embedded and is_locked(settings.data_dir):
        info = read_runtime(settings.data_dir)
        if info is None:
            raise StoreLocked(
                f"the data directory {settings.data_dir} is held by another process that is not "
                f"serving yet (no server.json); try again in a moment"
            )
        return await _remote(info.api_url, info.admin_token, op, args)
    store = await Store.open(
        data_dir=settings.data_dir, clickhouse_url=settings.clickhouse_url, server_options=settings.server_options
    )
    async with store:
        return await _direct(store, op, args, settings)

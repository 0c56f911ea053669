"""Media uploads as the Langfuse SDKs make them, with Tracehouse as the upload target.

``POST /api/public/media`` registers a file (content type, length, SHA-256, the trace field that
holds its ``@@@langfuseMedia:...@@@`` reference) and answers a signed upload URL on this host, or
none when the content is stored already. The SDK ``PUT``s the bytes there, then ``PATCH``es the
record with how the upload went. ``GET /api/public/media/{id}`` answers a signed download URL, as
Langfuse does; the UI reads files through ``/api/v1/media/{id}`` with the viewer's session.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from query_api.access import project_for
from query_api.admin import STORE_KEY
from query_api.auth import USERS_KEY
from query_api.langfuse_api import PREFIX, LangfuseError, LangfuseReadApi, langfuse_json
from query_api.server_api import DISK_KEY
from storage import Store
from storage.media import MediaRecord
from tracehouse.errors import InvalidInput, LowDisk, NotFound

__all__ = ["MEDIA_MAX_KEY", "media_routes", "read_links"]

log = logging.getLogger(__name__)

MEDIA_MAX_KEY = web.AppKey("media_max_bytes", int)
LINK_TTL_S = 3600
# Shown in the browser as they are; anything else is downloaded (HTML could run scripts).
INLINE = ("image/", "audio/", "video/", "application/pdf", "text/plain", "text/csv", "text/markdown")


async def _sign(request: web.Request, op: str, project: str, media_id: str, expires: int) -> str:
    key = await request.app[USERS_KEY].signing_key()
    return hmac.new(key, f"media:{op}:{project}:{media_id}:{expires}".encode(), hashlib.sha256).hexdigest()


async def _link(request: web.Request, op: str, project: str, media_id: str) -> tuple[str, int]:
    expires = int(time.time()) + LINK_TTL_S
    sig = await _sign(request, op, project, media_id, expires)
    base = str(request.url.with_query(None)).split("/api/public/media")[0]
    suffix = "upload" if op == "put" else "content"
    return f"{base}/api/public/media/{media_id}/{suffix}?project={project}&expires={expires}&sig={sig}", expires


async def read_links(request: web.Request, project: str, media_ids: list[str]) -> dict[str, str]:
    """Signed links (relative, valid an hour) to read these files without credentials: the files
    of a trace shared by a public link (query_api.shares_api)."""
    expires = int(time.time()) + LINK_TTL_S
    out = {}
    for media_id in media_ids:
        sig = await _sign(request, "get", project, media_id, expires)
        out[media_id] = (
            f"/api/public/media/{media_id}/content?{urlencode({'project': project, 'expires': expires, 'sig': sig})}"
        )
    return out


async def _signed(request: web.Request, op: str) -> tuple[Store, str, str]:
    """The project and media id of a signed link; 403 for a wrong, altered or expired one."""
    media_id = request.match_info["media_id"]
    project = request.query.get("project", "")
    expires = request.query.get("expires", "")
    given = request.query.get("sig", "")
    # isascii: isdigit() also takes digits int() does not (superscripts), and a link is ASCII.
    if not (expires.isascii() and expires.isdigit()) or int(expires) < time.time():
        raise LangfuseError(403, "AccessDeniedError", "this media link has expired: ask for a new one")
    good = await _sign(request, op, project, media_id, int(expires))
    if not hmac.compare_digest(good.encode(), given.encode()):
        raise LangfuseError(403, "AccessDeniedError", "this media link is not valid")
    return request.app[STORE_KEY], project, media_id


def _invalid(exc: Exception) -> LangfuseError:
    return LangfuseError(400, "InvalidRequestError", str(exc))


async def register(request: web.Request, store: Store, project: str) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        raise LangfuseError(400, "InvalidRequestError", "the body must be JSON") from None
    if not isinstance(body, dict):
        raise LangfuseError(400, "InvalidRequestError", "the body must be a JSON object")

    def text(name: str, required: bool = True) -> str:
        value = body.get(name)
        if value is None and not required:
            return ""
        if not isinstance(value, str):
            raise LangfuseError(400, "InvalidRequestError", f"{name} must be a string")
        return value

    dataset_id = text("datasetId", required=False)
    item_id = text("datasetItemId", required=False)
    # The item need not exist yet (the SDK uploads first), its dataset must.
    if item_id and (not dataset_id or not await store.datasets.datasets(project, dataset_id=dataset_id)):
        raise LangfuseError(404, "LangfuseNotFoundError", "datasetId: no such dataset in this project")
    length = body.get("contentLength")
    if not isinstance(length, int) or isinstance(length, bool):
        raise LangfuseError(400, "InvalidRequestError", "contentLength must be an integer")
    if store.media.files is None:
        raise LangfuseError(501, "NotImplementedError", "this server keeps no media files (no media directory)")
    settings = await store.projects.get_project(project)
    try:
        record, pending = await store.media.register(
            project,
            trace_id=text("traceId", required=not item_id),
            observation_id=text("observationId", required=False),
            field=text("field"),
            content_type=text("contentType"),
            content_length=length,
            sha256_base64=text("sha256Hash"),
            max_bytes=request.app[MEDIA_MAX_KEY],
            retention_days=settings.retention_days,
            dataset_id=dataset_id,
            dataset_item_id=item_id,
        )
    except InvalidInput as exc:
        raise _invalid(exc) from None
    url = (await _link(request, "put", project, record.id))[0] if pending else None
    return langfuse_json({"mediaId": record.id, "uploadUrl": url})


async def _record(store: Store, project: str, media_id: str) -> MediaRecord:
    try:
        return await store.media.get(project, media_id)
    except (NotFound, InvalidInput):
        raise LangfuseError(404, "LangfuseNotFoundError", f"no media {media_id[:40]!r} in this project") from None


async def report(request: web.Request, store: Store, project: str) -> web.Response:
    media_id = request.match_info["media_id"]
    await _record(store, project, media_id)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("uploadHttpStatus"), int):
        raise LangfuseError(400, "InvalidRequestError", "uploadHttpStatus (an integer) is required")
    error = body.get("uploadHttpError")
    await store.media.report(project, media_id, body["uploadHttpStatus"], error if isinstance(error, str) else "")
    return web.Response(status=204)


async def describe(request: web.Request, store: Store, project: str) -> web.Response:
    media_id = request.match_info["media_id"]
    record = await _record(store, project, media_id)
    files = store.media.files
    if record.uploaded_at is None or files is None or not await files.exists(project, media_id):
        raise LangfuseError(404, "LangfuseNotFoundError", "this media has not been uploaded")
    url, expires = await _link(request, "get", project, media_id)
    return langfuse_json(
        {
            "mediaId": record.id,
            "contentType": record.content_type,
            "contentLength": record.content_length,
            "uploadedAt": record.uploaded_at.isoformat().replace("+00:00", "Z"),
            "url": url,
            "urlExpiry": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)),
        }
    )


async def upload(request: web.Request) -> web.Response:
    try:
        store, project, media_id = await _signed(request, "put")
        reserve = request.app.get(DISK_KEY)
        files = store.media.files
        if reserve is not None and files is not None and files.local_path(project, media_id) is not None:
            try:
                reserve.check()  # media kept beside the store take its disk's space
            except LowDisk as exc:
                response = langfuse_json({"error": "ServiceUnavailableError", "message": exc.message}, 503)
                response.headers["Retry-After"] = str(exc.retry_after())
                return response

        async def chunks() -> AsyncIterator[bytes]:
            async for chunk in request.content.iter_chunked(256 * 1024):
                yield chunk

        try:
            await store.media.upload(project, media_id, request.headers.get("Content-Type", ""), chunks())
        except InvalidInput as exc:
            raise _invalid(exc) from None
        except NotFound:
            raise LangfuseError(404, "LangfuseNotFoundError", "no such media: register it first") from None
    except LangfuseError as exc:
        return langfuse_json({"error": exc.error, "message": exc.message}, exc.status)
    return web.Response(status=200)


async def _file_response(request: web.Request, store: Store, record: MediaRecord) -> web.StreamResponse:
    files = store.media.files
    if files is None or not await files.exists(record.project_id, record.id):
        raise NotFound("this media has not been uploaded")
    inline = record.content_type.startswith(INLINE)
    headers = {
        "Content-Type": record.content_type,
        "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{record.id}"',
        "X-Content-Type-Options": "nosniff",
        # An uploaded file never runs scripts here, whatever its type (SVG, HTML).
        "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'",
        "Cache-Control": "private, max-age=3600",
    }
    path = files.local_path(record.project_id, record.id)
    if path is not None:
        return web.FileResponse(path, headers=headers)
    # From the object store, through this server: the caller's access was checked here.
    response = web.StreamResponse(headers={**headers, "Content-Length": str(record.content_length)})
    await response.prepare(request)
    async for chunk in files.read(record.project_id, record.id):
        await response.write(chunk)
    await response.write_eof()
    return response


async def signed_content(request: web.Request) -> web.StreamResponse:
    try:
        store, project, media_id = await _signed(request, "get")
        record = await _record(store, project, media_id)
    except LangfuseError as exc:
        return langfuse_json({"error": exc.error, "message": exc.message}, exc.status)
    return await _file_response(request, store, record)


async def ui_content(request: web.Request) -> web.StreamResponse:
    """A file for the UI (or a script with a key): the caller must be able to read its project."""
    store: Store = request.app[STORE_KEY]
    project = await project_for(request, store)
    try:
        record = await store.media.get(project, request.match_info["media_id"])
    except InvalidInput:
        raise NotFound("no such media") from None
    return await _file_response(request, store, record)


def media_routes() -> list[web.RouteDef]:
    api = LangfuseReadApi()
    h = api.handler
    base = PREFIX + "/media"
    routes: list[Any] = [
        web.post(base, h(register)),
        web.get(base + "/{media_id}", h(describe)),
        web.patch(base + "/{media_id}", h(report)),
        web.put(base + "/{media_id}/upload", upload),
        web.get(base + "/{media_id}/content", signed_content),
        web.get("/api/v1/media/{media_id}", ui_content),
    ]
    return routes

"""HTTP endpoints of the Langfuse-compatible write API: ingestion, scores, projects.

Served on the OTLP/HTTP port and on the API port, under ``/api/public`` or any path prefix
before it (a Langfuse host such as ``https://example.com/langfuse`` behind a proxy).
Errors use Langfuse's shape, ``{"error", "message"}``.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from typing import Any

import orjson
from aiohttp import web

from otlp_receiver.auth import Authenticator
from otlp_receiver.ingest import IngestService
from otlp_receiver.langfuse.events import parse_envelope
from otlp_receiver.langfuse.service import Access, LangfuseIngest
from storage.projects import DEFAULT_ORGANIZATION_ID, PUBLIC_PREFIX
from tracehouse.deadlines import read_body
from tracehouse.errors import RequestTimeout, TracehouseError, Unauthenticated

__all__ = ["MAX_INGESTION_BYTES", "LangfuseRoutes"]

# Langfuse's own limit is 4.5 MB; the SDKs keep batches under 2.5 MB.
MAX_INGESTION_BYTES = 5 * 1024 * 1024
PREFIX = r"/{prefix:(?:.*/)?}api/public"


def _json(doc: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(doc), status=status, content_type="application/json")


def _error(status: int, error: str, message: str) -> web.Response:
    return _json({"error": error, "message": message}, status)


class LangfuseRoutes:
    def __init__(self, ingest: IngestService, auth: Authenticator) -> None:
        self.ingest = ingest
        self.auth = auth
        self.langfuse = LangfuseIngest(ingest.store)

    async def _access(self, request: web.Request, scores_allowed: bool = False) -> Access:
        header = request.headers.get("Authorization", "")
        kind, _, value = header.partition(" ")
        if kind.lower() == "bearer" and value.strip().startswith(PUBLIC_PREFIX) and scores_allowed:
            project = await self.ingest.store.projects.project_of_public_key(value.strip())
            if project is None:
                raise Unauthenticated("invalid or revoked public key")
            return Access(project, scores_only=True)
        if kind.lower() != "basic":
            raise Unauthenticated(
                "send 'Authorization: Basic base64(public_key:secret_key)' with a Tracehouse key pair"
            )
        try:
            base64.b64decode(value.strip(), validate=True)
        except binascii.Error:
            raise Unauthenticated("malformed Basic credentials") from None
        project = await self.auth.authenticate(header, None)
        if project is None:  # open mode never applies to this API: it always names a key
            raise Unauthenticated("missing credentials")
        return Access(project)

    async def _retention(self, project: str) -> int:
        _, retention, prices = await self.ingest.snapshot()
        self.langfuse.prices = prices
        return retention.get(project, 0)

    async def ingestion(self, request: web.Request) -> web.Response:
        try:
            access = await self._access(request, scores_allowed=True)
        except TracehouseError as exc:
            return _error(exc.http_status, "Unauthorized", exc.message)
        if request.content_length is not None and request.content_length > MAX_INGESTION_BYTES:
            return _error(413, "Payload Too Large", f"the batch is larger than {MAX_INGESTION_BYTES} bytes")
        try:
            body = await read_body(request)
        except web.HTTPRequestEntityTooLarge:
            return _error(413, "Payload Too Large", f"the batch is larger than {MAX_INGESTION_BYTES} bytes")
        except RequestTimeout as exc:
            return _error(408, "Request Timeout", exc.message)
        if len(body) > MAX_INGESTION_BYTES:
            return _error(413, "Payload Too Large", f"the batch is larger than {MAX_INGESTION_BYTES} bytes")
        try:
            batch = parse_envelope(orjson.loads(body))
        except (orjson.JSONDecodeError, ValueError) as exc:
            return _json({"message": "Invalid request data", "errors": [str(exc)]}, 400)
        try:
            result = await self.langfuse.ingest(access, batch, await self._retention(access.project_id))
        except TracehouseError as exc:
            headers = {"Retry-After": str(max(1, round(exc.retry_after_s or 1)))} if exc.http_status == 503 else None
            response = _error(exc.http_status, type(exc).__name__, exc.message)
            if headers:
                response.headers.update(headers)
            return response
        return _json(result.json(), 207)

    async def create_score(self, request: web.Request) -> web.Response:
        try:
            access = await self._access(request, scores_allowed=True)
        except TracehouseError as exc:
            return _error(exc.http_status, "Unauthorized", exc.message)
        try:
            body = orjson.loads(await read_body(request))
        except orjson.JSONDecodeError:
            return _error(400, "Invalid request data", "the body is not valid JSON")
        except RequestTimeout as exc:
            return _error(408, "Request Timeout", exc.message)
        if not isinstance(body, dict):
            return _error(400, "Invalid request data", "the body must be a JSON object")
        body.setdefault("id", str(uuid.uuid4()))
        event = {
            "id": str(uuid.uuid4()),
            "type": "score-create",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "body": body,
        }
        result = await self.langfuse.ingest(access, [event], await self._retention(access.project_id))
        if result.errors:
            error = result.errors[0]
            return _error(error["status"], error["message"], error["error"])
        return _json({"id": body["id"]})

    async def projects(self, request: web.Request) -> web.Response:
        try:
            access = await self._access(request)
        except TracehouseError as exc:
            return _error(exc.http_status, "Unauthorized", exc.message)
        project = await self.ingest.store.projects.get_project(access.project_id)
        return _json(
            {
                "data": [
                    {
                        "id": project.id,
                        "name": project.name,
                        "organization": {"id": project.organization_id or DEFAULT_ORGANIZATION_ID, "name": "Default"},
                        "metadata": {},
                        "retentionDays": project.retention_days or None,
                    }
                ]
            }
        )

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(PREFIX + "/ingestion", self.ingestion),
            web.post(PREFIX + "/scores", self.create_score),
            web.get(PREFIX + "/projects", self.projects),
        ]

"""HTTP endpoints of the Langfuse-compatible write API: ingestion, scores, projects.

Served on the OTLP/HTTP port and on the API port, under ``/api/public`` or any path prefix
before it (a Langfuse host such as ``https://example.com/langfuse`` behind a proxy).
Errors use Langfuse's shape, ``{"error", "message"}``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from aiohttp import web

from credentials import Credentials
from otlp_receiver.ingest import IngestService
from otlp_receiver.langfuse.events import parse_envelope
from otlp_receiver.langfuse.service import Access, BatchResult
from storage.projects import DEFAULT_ORGANIZATION_ID, PUBLIC_PREFIX
from tracehouse.deadlines import read_body
from tracehouse.errors import RequestTimeout, TracehouseError

__all__ = ["MAX_INGESTION_BYTES", "LangfuseRoutes"]

# Langfuse's own limit is 4.5 MB; the SDKs keep batches under 2.5 MB.
MAX_INGESTION_BYTES = 5 * 1024 * 1024
# SDK 5 sends score batches of at most 1 MB (15 scores by default); this bounds a hand-made one.
MAX_SCORES_PER_REQUEST = 1000
PREFIX = r"/{prefix:(?:.*/)?}api/public"


def _json(doc: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(doc), status=status, content_type="application/json")


def _error(status: int, error: str, message: str) -> web.Response:
    return _json({"error": error, "message": message}, status)


def _unavailable(exc: TracehouseError) -> web.Response:
    """A store or capacity error, with the retry hint the SDKs honour on a 503."""
    response = _error(exc.http_status, type(exc).__name__, exc.message)
    if (seconds := exc.retry_after()) is not None:
        response.headers["Retry-After"] = str(seconds)
    return response


def _score_event(body: Any) -> dict[str, Any]:
    """A ``score-create`` event around a score body from ``POST /api/public/scores``."""
    return {
        "id": str(uuid.uuid4()),
        "type": "score-create",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "body": body,
    }


def _indexed_errors(events: list[dict[str, Any]], result: BatchResult) -> list[tuple[int, dict[str, Any]]]:
    """The batch's errors with the position of the score each one is about."""
    position = {e["id"]: i for i, e in enumerate(events)}
    return sorted(((position.get(err["id"], -1), err) for err in result.errors), key=lambda pair: pair[0])


class LangfuseRoutes:
    def __init__(self, ingest: IngestService, auth: Credentials) -> None:
        self.ingest = ingest
        self.auth = auth

    async def _access(self, request: web.Request, scores_allowed: bool = False) -> Access:
        header = request.headers.get("Authorization", "")
        kind, _, value = header.partition(" ")
        if kind.lower() == "bearer" and value.strip().startswith(PUBLIC_PREFIX) and scores_allowed:
            return Access(await self.auth.public_key_project(value.strip()), scores_only=True)
        # Open mode never applies to this API: it always names a key.
        return Access(await self.auth.key_project(header))

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
            result = await self.ingest.ingest_langfuse(access, batch, len(body))
        except TracehouseError as exc:
            return _unavailable(exc)
        return _json(result.json(), 207)

    async def create_score(self, request: web.Request) -> web.Response:
        """One score (a JSON object, SDKs 2.x-4.x: 200 ``{id}``) or a list of scores (SDK 5.x: 202
        when every score was stored, else 207 with ``accepted``, ``rejected`` and one error each)."""
        try:
            access = await self._access(request, scores_allowed=True)
        except TracehouseError as exc:
            return _error(exc.http_status, "Unauthorized", exc.message)
        try:
            raw = await read_body(request)
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _error(400, "Invalid request data", "the body is not valid JSON")
        except RequestTimeout as exc:
            return _error(408, "Request Timeout", exc.message)
        if isinstance(body, list):
            return await self._create_scores(access, body, len(raw))
        if not isinstance(body, dict):
            return _error(400, "Invalid request data", "the body must be a score object or a list of them")
        body.setdefault("id", str(uuid.uuid4()))
        try:
            result = await self.ingest.ingest_langfuse(access, [_score_event(body)], len(raw))
        except TracehouseError as exc:
            return _unavailable(exc)
        if result.errors:
            error = result.errors[0]
            return _error(error["status"], error["message"], error["error"])
        return _json({"id": body["id"]})

    async def _create_scores(self, access: Access, scores: list[Any], nbytes: int) -> web.Response:
        if len(scores) > MAX_SCORES_PER_REQUEST:
            return _error(
                413, "Payload Too Large", f"{len(scores)} scores in one request; send at most {MAX_SCORES_PER_REQUEST}"
            )
        events = []
        for score in scores:
            if isinstance(score, dict):
                score = {**score, "id": score.get("id") or str(uuid.uuid4())}
            events.append(_score_event(score))
        try:
            result = await self.ingest.ingest_langfuse(access, events, nbytes)
        except TracehouseError as exc:
            return _unavailable(exc)  # nothing was stored: the SDK retries the whole batch
        if not result.errors:
            return _json({"message": "Accepted"}, 202)
        errors = [{"message": f"score {i}: {e['error']}", "index": i} for i, e in _indexed_errors(events, result)]
        return _json({"accepted": len(events) - len(errors), "rejected": len(errors), "errors": errors}, 207)

    async def projects(self, request: web.Request) -> web.Response:
        try:
            access = await self._access(request)
        except TracehouseError as exc:
            return _error(exc.http_status, "Unauthorized", exc.message)
        store = self.ingest.store
        project = await store.projects.get_project(access.project_id)
        organization = await store.organizations.get_organization(project.organization_id or DEFAULT_ORGANIZATION_ID)
        return _json(
            {
                "data": [
                    {
                        "id": project.id,
                        "name": project.name,
                        "organization": {"id": organization.id, "name": organization.name},
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

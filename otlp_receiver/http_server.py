"""OTLP/HTTP: ``POST /v1/traces``, ``/v1/logs`` and ``/v1/metrics`` (and any path ending in them, and Langfuse's
OTel path).

Framing, auth and errors only; the work is ``IngestService.ingest`` (``ingest_records``). Replies
use the request's content type: an Export*ServiceResponse on success, a google.rpc.Status on
error, in protobuf or JSON.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from credentials import Credentials
from otlp_receiver.content_encodings import inflate
from otlp_receiver.ingest import Format, IngestService, Signal
from tracehouse import __version__
from tracehouse.deadlines import read_body
from tracehouse.errors import PayloadTooLarge, TracehouseError, UnsupportedMediaType
from tracehouse.telemetry import CONTENT_TYPE

__all__ = ["LOGS_PATHS", "METRICS_PATHS", "OTLP_PATHS", "REPLIES", "OtlpHttpHandler", "create_otlp_app", "success_body"]

OTLP_PATHS = ("/v1/traces", "/api/public/otel/v1/traces")
LOGS_PATHS = ("/v1/logs", "/api/public/otel/v1/logs")
METRICS_PATHS = ("/v1/metrics", "/api/public/otel/v1/metrics")
CONTENT_TYPES: dict[str, Format] = {
    "application/x-protobuf": "protobuf",
    "application/protobuf": "protobuf",
    "application/json": "json",
}
REPLY_TYPES = {"protobuf": "application/x-protobuf", "json": "application/json"}
GRPC_CODES: dict[str, int] = dict(code_pb2.Code.items())


# Per signal: its Export*ServiceResponse, and the partial-success count in protobuf and in JSON.
REPLIES: dict[str, tuple[Any, str, str]] = {
    "traces": (ExportTraceServiceResponse, "rejected_spans", "rejectedSpans"),
    "logs": (ExportLogsServiceResponse, "rejected_log_records", "rejectedLogRecords"),
    "metrics": (ExportMetricsServiceResponse, "rejected_data_points", "rejectedDataPoints"),
}


def success_body(signal: str, fmt: Format, rejected: int, message: str) -> bytes:
    """An Export*ServiceResponse, with partial_success when something was rejected or warned of."""
    response_type, field, json_field = REPLIES[signal]
    if fmt == "json":
        doc: dict[str, Any] = {}
        if rejected or message:
            doc["partialSuccess"] = {json_field: str(rejected), "errorMessage": message}
        return orjson.dumps(doc)
    response = response_type()
    if rejected or message:
        setattr(response.partial_success, field, rejected)
        response.partial_success.error_message = message
    return response.SerializeToString()


def _status_body(fmt: Format, code: str, message: str) -> bytes:
    if fmt == "json":
        return orjson.dumps({"code": GRPC_CODES.get(code, 2), "message": message})
    return status_pb2.Status(code=GRPC_CODES.get(code, 2), message=message).SerializeToString()


class OtlpHttpHandler:
    def __init__(self, service: IngestService, auth: Credentials, max_body_bytes: int) -> None:
        self.service = service
        self.auth = auth
        self.max_body_bytes = max_body_bytes

    def _reply(self, fmt: Format, status: int, body: bytes, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(status=status, body=body, content_type=REPLY_TYPES[fmt], headers=headers)

    def _error(self, fmt: Format, exc: TracehouseError) -> web.Response:
        headers = {}
        if (seconds := exc.retry_after()) is not None:
            headers["Retry-After"] = str(seconds)
        return self._reply(fmt, exc.http_status, _status_body(fmt, exc.grpc_code, exc.message), headers)

    async def _accept(self, request: web.Request) -> tuple[Format, str | None, bytes]:
        """The request's format, project (from its credentials) and body, or a TracehouseError."""
        fmt: Format = CONTENT_TYPES.get(request.content_type, "json")
        if request.content_type not in CONTENT_TYPES:
            raise UnsupportedMediaType(
                f"unsupported Content-Type {request.content_type!r}: use application/x-protobuf or application/json"
            )
        project = await self.auth.authenticate(request.headers.get("Authorization"), request.headers.get("api_key"))
        return fmt, project, await self._read(request)

    async def handle(self, request: web.Request) -> web.Response:
        fmt: Format = CONTENT_TYPES.get(request.content_type, "json")
        try:
            fmt, project, body = await self._accept(request)
            result = await self.service.ingest(body, fmt, project)
        except TracehouseError as exc:
            return self._error(fmt, exc)
        return self._reply(fmt, 200, success_body("traces", fmt, result.rejected, result.message))

    def records_handler(self, signal: Signal) -> Any:
        """The handler of ``POST /v1/logs`` or ``/v1/metrics``."""

        async def handle(request: web.Request) -> web.Response:
            fmt: Format = CONTENT_TYPES.get(request.content_type, "json")
            try:
                fmt, project, body = await self._accept(request)
                result = await self.service.ingest_records(signal, body, fmt, project)
            except TracehouseError as exc:
                return self._error(fmt, exc)
            return self._reply(fmt, 200, success_body(signal, fmt, result.rejected, result.message))

        return handle

    async def _read(self, request: web.Request) -> bytes:
        try:
            body = await read_body(request)
        except web.HTTPRequestEntityTooLarge:
            raise PayloadTooLarge(
                f"the body is larger than {self.max_body_bytes} bytes (TRACEHOUSE_MAX_BODY_BYTES); send smaller batches"
            ) from None
        return inflate(body, request.headers.get("Content-Encoding", ""), self.max_body_bytes)

    def routes(self) -> list[web.RouteDef]:
        """The OTLP routes, for this app or another (the API port serves Langfuse's OTel path)."""
        logs, metrics = self.records_handler("logs"), self.records_handler("metrics")
        return (
            [web.post(path, self.handle) for path in OTLP_PATHS]
            + [web.post(path, logs) for path in LOGS_PATHS]
            + [web.post(path, metrics) for path in METRICS_PATHS]
            + [
                # Any prefix: Dify's Phoenix provider keeps the path of the URL it is given.
                web.post(r"/{prefix:.+}/v1/traces", self.handle),
                web.post(r"/{prefix:.+}/v1/logs", logs),
                web.post(r"/{prefix:.+}/v1/metrics", metrics),
            ]
        )


def create_otlp_app(handler: OtlpHttpHandler, extra_routes: list[web.RouteDef] | None = None) -> web.Application:
    """The application served on the OTLP/HTTP port (plus ``extra_routes``: the Langfuse write API)."""

    async def not_found(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "code": 5,
                "message": f"no OTLP endpoint at {request.path}: use POST /v1/traces, /v1/logs or /v1/metrics",
            },
            status=404,
        )

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "OK", "version": __version__})

    app = web.Application(client_max_size=handler.max_body_bytes)
    app.add_routes(handler.routes())

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=handler.service.telemetry.render(), headers={"Content-Type": CONTENT_TYPE})

    app.add_routes([web.get("/api/public/health", health), web.get("/metrics", metrics), *(extra_routes or [])])
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app

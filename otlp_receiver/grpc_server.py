"""OTLP/gRPC: ``opentelemetry.proto.collector.trace.v1.TraceService/Export`` and
``opentelemetry.proto.collector.logs.v1.LogsService/Export`` and ``...metrics.v1.MetricsService/Export``.

The request arrives as raw bytes and is parsed by us, so that a malformed message is
INVALID_ARGUMENT (grpc's own deserializer would make it INTERNAL). Overload and store
outages are UNAVAILABLE with a google.rpc.RetryInfo, which OTel exporters honour.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from credentials import Credentials
from otlp_receiver.http_server import GRPC_CODES, success_body
from otlp_receiver.ingest import IngestService, Signal
from tracehouse.errors import TracehouseError

__all__ = ["LOGS_SERVICE", "METRICS_SERVICE", "SERVICE", "create_grpc_server"]

log = logging.getLogger(__name__)

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
LOGS_SERVICE = "opentelemetry.proto.collector.logs.v1.LogsService"
METRICS_SERVICE = "opentelemetry.proto.collector.metrics.v1.MetricsService"


def _status(exc: TracehouseError) -> grpc.Status:
    status = status_pb2.Status(code=GRPC_CODES.get(exc.grpc_code, 13), message=exc.message)
    seconds = exc.retry_after()
    if seconds is not None and exc.grpc_code in ("UNAVAILABLE", "RESOURCE_EXHAUSTED"):
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds)))
        status.details.append(detail)
    return rpc_status.to_status(status)


class _Export:
    def __init__(self, service: IngestService, auth: Credentials) -> None:
        self.service = service
        self.auth = auth

    async def _project(self, context: grpc.aio.ServicerContext) -> str | None:
        metadata = {k.lower(): v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        return await self.auth.authenticate(metadata.get("authorization"), metadata.get("api_key"))

    async def traces(self, body: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            result = await self.service.ingest(body, "protobuf", await self._project(context), transport="grpc")
        except TracehouseError as exc:
            await context.abort_with_status(_status(exc))
            raise AssertionError("unreachable") from None
        return success_body("traces", "protobuf", result.rejected, result.message)

    def records(self, signal: Signal) -> Any:
        """The Export method of LogsService or MetricsService."""

        async def export(body: bytes, context: grpc.aio.ServicerContext) -> bytes:
            try:
                project = await self._project(context)
                result = await self.service.ingest_records(signal, body, "protobuf", project, transport="grpc")
            except TracehouseError as exc:
                await context.abort_with_status(_status(exc))
                raise AssertionError("unreachable") from None
            return success_body(signal, "protobuf", result.rejected, result.message)

        return export


def create_grpc_server(
    service: IngestService, auth: Credentials, max_body_bytes: int, handshake_s: float = 10.0, idle_s: float = 75.0
) -> grpc.aio.Server:
    """A grpc.aio server with the TraceService; the caller adds a port and starts it.

    Deadlines as on the HTTP ports: a connection that does not finish its handshake in
    ``handshake_s``, or stays idle ``idle_s``, is closed."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_body_bytes),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
            ("grpc.server_handshake_timeout_ms", int(handshake_s * 1000)),
            ("grpc.max_connection_idle_ms", int(idle_s * 1000)),
            # gRPC shares a port with any process that asked the same (SO_REUSEPORT): a second
            # Tracehouse on 4317 would take half of the exporters' connections into its own store.
            ("grpc.so_reuseport", 0),
        ],
    )
    export = _Export(service, auth)
    # grpc.aio needs coroutine functions here: bound methods of _Export are.
    handlers = [
        grpc.method_handlers_generic_handler(name, {"Export": grpc.unary_unary_rpc_method_handler(rpc)})
        for name, rpc in (
            (SERVICE, export.traces),
            (LOGS_SERVICE, export.records("logs")),
            (METRICS_SERVICE, export.records("metrics")),
        )
    ]
    server.add_generic_rpc_handlers(tuple(handlers))
    return server

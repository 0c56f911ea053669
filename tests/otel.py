"""Driving the real OpenTelemetry SDK exporters at a Tracehouse receiver."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import grpc
from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter as JsonHttpExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

from tracehouse.server import Running

# "": the exporter's own default (none unless OTEL_EXPORTER_OTLP_COMPRESSION says)
GRPC_COMPRESSION = {"": None, "gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate}
HTTP_COMPRESSION = {"": None, "gzip": Compression.Gzip, "deflate": Compression.Deflate}


def exporter(
    kind: str, live: Running, headers: Mapping[str, str] | None = None, timeout: float | None = None
) -> SpanExporter:
    """The SDK's exporter of ``kind`` (``grpc``, ``http`` or ``json``; the first two with ``-gzip``
    or ``-deflate``, as OTEL_EXPORTER_OTLP_COMPRESSION sets); ``timeout`` is its budget for one
    export, retries included."""
    transport, _, packing = kind.partition("-")
    if transport == "grpc" and packing in GRPC_COMPRESSION:
        return GrpcExporter(
            endpoint=live.otlp_grpc_address,
            insecure=True,
            headers=dict(headers or {}),
            timeout=timeout,
            compression=GRPC_COMPRESSION[packing],
        )
    if transport == "http" and packing in HTTP_COMPRESSION:
        return HttpExporter(
            endpoint=live.otlp_http_url + "/v1/traces",
            headers=dict(headers or {}),
            compression=HTTP_COMPRESSION[packing],
            timeout=timeout,
        )
    if kind == "json":
        return JsonHttpExporter(
            endpoint=live.otlp_http_url + "/v1/traces", headers=dict(headers or {}), timeout=timeout
        )
    raise ValueError(kind)


def provider(span_exporter: SpanExporter, service: str = "test-service", **resource: str) -> TracerProvider:
    tp = TracerProvider(resource=Resource.create({"service.name": service, **resource}))
    tp.add_span_processor(SimpleSpanProcessor(span_exporter))
    return tp


async def in_thread(fn: Callable[[], object]) -> object:
    """Exporters block; run them off the loop that serves the receiver."""
    return await asyncio.to_thread(fn)

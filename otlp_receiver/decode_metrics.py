"""OTLP metrics request -> one row per data point (Arrow) for ``metric_points``.

Pure: protobuf in, Arrow out, no I/O. Gauges, sums, histograms, exponential histograms and
summaries keep their values, temporality and buckets; each row also gets its Prometheus name and
labels (``prometheus_names``). Data points with invalid times, or of a metric with no name, are
rejected one by one and counted; the rest of the request is kept.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from otlp_receiver.decode import MAX_NS, DecodeContext, parse_protobuf, resource_project
from otlp_receiver.prometheus_names import job_and_instance, label_name, metric_name
from storage.attribute_codec import read_attributes
from storage.tables import METRIC_POINTS

__all__ = ["MetricsDecodeResult", "decode_metrics", "decode_metrics_bytes", "parse_protobuf_metrics"]

POINT_SCHEMA = METRIC_POINTS.arrow_schema()
TEMPORALITY = {1: "delta", 2: "cumulative"}
KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")


@dataclass
class MetricsDecodeResult:
    points: pa.Table | None
    accepted: int
    rejected: int
    message: str = ""

    @property
    def tables(self) -> dict[str, pa.Table]:
        """What to commit, by batcher lane."""
        return {"metrics": self.points} if self.points is not None else {}


def parse_protobuf_metrics(body: bytes) -> ExportMetricsServiceRequest:
    return parse_protobuf(ExportMetricsServiceRequest(), body)


def _finite(x: float) -> float:
    return x if math.isfinite(x) else (0.0 if math.isnan(x) else x)


class _Rows:
    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {f.name: [] for f in POINT_SCHEMA if f.name != "ingested_at"}

    def add(self, row: dict[str, Any]) -> None:
        for name, values in self.cols.items():
            values.append(row.get(name, _DEFAULTS.get(name)))

    def table(self) -> pa.Table:
        arrays, names = [], []
        for f in POINT_SCHEMA:
            if f.name == "ingested_at":
                continue
            if pa.types.is_timestamp(f.type):
                arrays.append(pa.array(self.cols[f.name], pa.int64()).cast(f.type))
            else:
                arrays.append(pa.array(self.cols[f.name], f.type))
            names.append(f.name)
        return pa.Table.from_arrays(arrays, names=names)


_DEFAULTS: dict[str, Any] = {
    "temporality": "",
    "monotonic": 0,
    "value": 0.0,
    "count": 0,
    "sum": 0.0,
    "min": 0.0,
    "max": 0.0,
    "bounds": [],
    "bucket_counts": [],
    "exp_scale": 0,
    "exp_zero_count": 0,
    "exp_positive_offset": 0,
    "exp_positive": [],
    "exp_negative_offset": 0,
    "exp_negative": [],
    "quantiles": [],
    "quantile_values": [],
}


def _totals(point: Any) -> dict[str, Any]:
    """Count, sum, min and max of a histogram point, of either kind."""
    return {"count": point.count, "sum": _finite(point.sum), "min": _finite(point.min), "max": _finite(point.max)}


def _point_values(kind: str, point: Any) -> dict[str, Any]:
    if kind in ("gauge", "sum"):
        which = point.WhichOneof("value")
        return {"value": float(point.as_int) if which == "as_int" else _finite(point.as_double)}
    if kind == "histogram":
        return {
            **_totals(point),
            "bounds": [_finite(b) for b in point.explicit_bounds],
            "bucket_counts": list(point.bucket_counts),
        }
    if kind == "exponential_histogram":
        return {
            **_totals(point),
            "exp_scale": point.scale,
            "exp_zero_count": point.zero_count,
            "exp_positive_offset": point.positive.offset,
            "exp_positive": list(point.positive.bucket_counts),
            "exp_negative_offset": point.negative.offset,
            "exp_negative": list(point.negative.bucket_counts),
        }
    return {  # summary
        "count": point.count,
        "sum": _finite(point.sum),
        "quantiles": [_finite(q.quantile) for q in point.quantile_values],
        "quantile_values": [_finite(q.value) for q in point.quantile_values],
    }


def decode_metrics(request: ExportMetricsServiceRequest, ctx: DecodeContext) -> MetricsDecodeResult:
    """Decode every data point of ``request``."""
    rows = _Rows()
    rejected: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    seen: Counter[bytes] = Counter()
    accepted = 0
    for resource_metrics in request.resource_metrics:
        r_keys: list[str] = []
        r_values: list[str] = []
        r_types: tuple[list[str], list[str]] = ([], [])
        resource = read_attributes(resource_metrics.resource.attributes, r_keys, r_values, *r_types)
        project = resource_project(resource, ctx, warnings)
        retention = ctx.retention_days.get(project, 0)
        service = resource.get("service.name")
        service = service if isinstance(service, str) and service else "unknown_service"
        resource_labels = job_and_instance(resource)
        resource_key = resource_metrics.resource.SerializeToString(deterministic=True)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            scope_key = scope.SerializeToString(deterministic=True)
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    continue  # no data: nothing to store
                data = getattr(metric, kind)
                if not metric.name:
                    rejected["a metric must have a name"] += len(data.data_points)
                    continue
                monotonic = bool(getattr(data, "is_monotonic", False))
                temporality = TEMPORALITY.get(getattr(data, "aggregation_temporality", 0), "")
                prom = metric_name(metric.name, metric.unit, kind, monotonic)
                identity = b"".join(
                    (resource_key, scope_key, metric.name.encode(), metric.unit.encode(), kind.encode())
                )
                for point in data.data_points:
                    if point.time_unix_nano > MAX_NS or point.start_time_unix_nano > MAX_NS:
                        rejected["timestamps must be before the year 2262"] += 1
                        continue
                    if point.time_unix_nano == 0:
                        rejected["a data point needs its time (time_unix_nano)"] += 1
                        continue
                    accepted += 1
                    a_keys: list[str] = []
                    a_values: list[str] = []
                    a_types: tuple[list[str], list[str]] = ([], [])
                    read_attributes(point.attributes, a_keys, a_values, *a_types)
                    digest = hashlib.blake2b(point.SerializeToString(deterministic=True), digest_size=16)
                    digest.update(identity)
                    content = digest.digest()
                    seen[content] += 1
                    labels = {**resource_labels, **{label_name(k): v for k, v in zip(a_keys, a_values, strict=True)}}
                    rows.add(
                        {
                            "project_id": project,
                            "prom_name": prom,
                            "name": metric.name,
                            "kind": kind,
                            "temporality": temporality,
                            "monotonic": int(monotonic),
                            "unit": metric.unit,
                            "description": metric.description,
                            "time": point.time_unix_nano,
                            "start_time": point.start_time_unix_nano,
                            "point_id": f"{content.hex()}-{seen[content]}",
                            "labels": list(labels.items()),
                            "attributes": list(zip(a_keys, a_values, strict=True)),
                            "attribute_types": list(zip(*a_types, strict=True)),
                            "resource_attributes": list(zip(r_keys, r_values, strict=True)),
                            "resource_attribute_types": list(zip(*r_types, strict=True)),
                            "service_name": service,
                            "scope_name": scope.name,
                            "scope_version": scope.version,
                            "flags": point.flags,
                            "retention_days": retention,
                            **_point_values(kind, point),
                        }
                    )
    messages = [f"{n} data point(s) rejected: {why}" for why, n in rejected.most_common(5)]
    messages += [f"{n} data point(s): {why}" for why, n in warnings.most_common(5)]
    table = rows.table() if accepted else None
    return MetricsDecodeResult(table, accepted, sum(rejected.values()), "; ".join(messages))


def decode_metrics_bytes(body: bytes, fmt: str, ctx: DecodeContext) -> MetricsDecodeResult:
    """Parse and decode a metrics request body (``fmt``: "protobuf" or "json")."""
    from otlp_receiver.json_decode import parse_json_metrics_request

    request = parse_protobuf_metrics(body) if fmt == "protobuf" else parse_json_metrics_request(body)
    return decode_metrics(request, ctx)

"""OTLP metric points -> the series PromQL evaluates (query_api.promql).

The evaluator works on counters as amounts added per bucket plus a running total before the
range (storage.metrics). OTLP points map onto that:
- an instant query reads a cumulative sum (or histogram) as its latest value, as Prometheus does;
- over a range (rate, increase) it adds ``value - previous`` at each point, or the value itself after
  a reset (a new start time, or a value lower than the previous one), and its first point only if
  it was created in range;
- a delta sum adds its value;
- a gauge, or a summary's quantile, "adds" the change from its previous value, so the running total
  at any time is its latest value.
The points come reduced to the last one per series, start time and bucket (the changes within a
bucket add up to it): a query reads as many rows as its chart has points, whatever the export
interval. A series with no point in the lookback before the range counts from its first point in
the range (each bucket's first point comes with it).
Histograms become ``_bucket`` series (cumulative per ``le``, ``+Inf`` last), ``_count`` and ``_sum``,
as OpenTelemetry's Prometheus exporter writes them; exponential histograms give ``_count`` and
``_sum``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from storage.otlp_metrics import OtlpMetricsReader

__all__ = ["le_label", "otlp_series"]

NS = 1_000_000_000
# How far back a series' last point still counts (Prometheus: 5 minutes). Exporters send every
# minute by default; this leaves room for slower ones and bounds what a query reads.
LOOKBACK_S = 15 * 60


@functools.lru_cache(maxsize=4096)  # a histogram's few bounds, once for all its points
def le_label(bound: float) -> str:
    """A bucket bound as Prometheus writes it: 1, 0.25, +Inf."""
    if math.isinf(bound):
        return "+Inf" if bound > 0 else "-Inf"
    return str(int(bound)) if bound.is_integer() else repr(bound)


Extra = tuple[tuple[str, str], ...]  # a sample's own labels (le, quantile), hashable


@functools.lru_cache(maxsize=1024)  # a histogram's bounds, once for all its points
def _le_keys(bounds: tuple[float, ...]) -> tuple[Extra, ...]:
    return (*((("le", le_label(float(b))),) for b in bounds), (("le", "+Inf"),))


def _samples(row: dict[str, Any], suffix: str) -> list[tuple[Extra, float]]:
    """The (extra labels, value) samples of one point under ``suffix``."""
    kind = row["kind"]
    if kind in ("gauge", "sum"):
        return [((), float(row["value"]))]
    if suffix == "_count":
        return [((), float(row["count"]))]
    if suffix == "_sum":
        return [((), float(row["sum"]))]
    if kind == "summary":
        return [
            ((("quantile", le_label(q)),), float(v))
            for q, v in zip(row["quantiles"], row["quantile_values"], strict=False)
        ]
    if kind == "histogram":
        counts = row["bucket_counts"]
        keys = _le_keys(tuple(row["bounds"]))
        out, total = [], 0.0
        for key, count in zip(keys, counts[: len(keys) - 1], strict=False):
            total += count
            out.append((key, total))
        out.append((keys[-1], float(row["count"] or sum(counts))))
        return out
    return []  # exponential histogram buckets: not as classic buckets


def _first_samples(row: dict[str, Any], suffix: str) -> dict[Extra, float]:
    """The samples of the first point of a row's step (storage.otlp_metrics.points' ``first_*``)."""
    shadow = {**row, "value": row["first_value"], "count": row["first_count"], "sum": row["first_sum"]}
    shadow["bucket_counts"] = row["first_bucket_counts"]
    return dict(_samples(shadow, suffix))


async def otlp_series(
    reader: OtlpMetricsReader,
    project: str,
    sample_name: str,
    start: int,
    end: int,
    bucket_s: int,
    with_base: bool,
) -> tuple[list[dict[str, str]], list[int], list[list[float]], list[float], list[int]] | None:
    """Like ``storage.metrics.MetricsReader.series`` for an OTLP metric (times in epoch seconds),
    or None if no stored point has this name. A fifth list gives, per label set, the bucket of its
    first point, or -1 if it had one before the range: a series has no value before it exists."""
    found = await reader.resolve(project, sample_name)
    if found is None:
        return None
    prom_name, _, suffix = found
    points = await reader.points(project, prom_name, start * NS, end * NS, bucket_s)
    # A range (with_base false) needs the last points before it, not the running totals of deltas.
    previous_rows = await reader.before(project, prom_name, start * NS, LOOKBACK_S * NS, totals=with_base)
    buckets = max(1, -(-(end - start) // bucket_s))
    index: dict[tuple, int] = {}
    labels: list[dict[str, str]] = []
    values: list[list[float]] = []
    bases: list[float] = []
    firsts: list[int] = []
    previous: dict[int, float] = {}
    segment: dict[int, int] = {}  # a cumulative series' start time: a new one is a restart

    def slot(row_labels: dict[str, str], row_key: tuple, extra: Extra) -> int:
        # Keyed by the row's sorted labels (sorted once a row) and the sample's own (le, quantile).
        key = (row_key, extra)
        if key not in index:
            index[key] = len(labels)
            labels.append({**row_labels, **dict(extra)})
            values.append([0.0] * buckets)
            bases.append(0.0)
            firsts.append(buckets)
        return index[key]

    for row in previous_rows:
        row_key = tuple(sorted(row["labels"].items()))
        for extra, value in _samples(row, suffix):
            s = slot(row["labels"], row_key, extra)
            bases[s] = value if with_base else 0.0
            previous[s] = value
            segment[s] = row["start_ns"]
            firsts[s] = -1
    for row in points:  # per series and segment, one row a bucket (storage.otlp_metrics.points)
        b = row["bucket"]
        delta = row["temporality"] == "delta"
        counter = row["kind"] != "gauge" and not (row["kind"] == "sum" and not row["monotonic"])
        row_key = tuple(sorted(row["labels"].items()))
        first: dict[Extra, float] | None = None  # the step's first point: made only for a series' first row
        for extra, value in _samples(row, suffix):
            s = slot(row["labels"], row_key, extra)
            before = previous.get(s)
            if delta:
                added = value
            elif with_base or not counter:
                # An instant value: the running total follows the latest sample (a reset included).
                added = value - (before or 0.0)
            elif before is None:
                # A range: a counter created inside it counts from zero; one created earlier counts
                # from the first point seen.
                if row["start_ns"] >= start * NS:
                    added = value
                else:
                    first = _first_samples(row, suffix) if first is None else first
                    added = value - first.get(extra, value)
            else:
                # A cumulative counter restarted (a new start time), or that went down, was reset:
                # it counts from zero again.
                restarted = segment.get(s) != row["start_ns"] or value < before
                added = value if restarted else value - before
            previous[s] = value
            segment[s] = row["start_ns"]
            if 0 <= b < buckets:
                values[s][b] += added
                firsts[s] = min(firsts[s], b)
    starts = [start + i * bucket_s for i in range(buckets)]
    return labels, starts, values, bases, firsts

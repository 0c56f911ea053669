"""Tempo's TraceQL metrics API: ``GET /api/metrics/query_range`` and ``/api/metrics/query``.

Grafana's Tempo data source (TraceQL metrics panels, alerts) and its Traces Drilldown app ask
these. The answer is the proto-JSON of Tempo's ``QueryRangeResponse`` and
``QueryInstantResponse`` (shared/reference/grafana.md 1.6): labels typed as OTLP values, int64s
as strings, no NaN. Time parameters are read as Tempo reads them (``pkg/api/http.go``): unix
seconds, unix nanoseconds (more than ten digits), fractional seconds or RFC 3339; ``since``
instead of ``start``; ``step`` in seconds or as a duration, by default about 240 points.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from typing import Any

from aiohttp import web

from storage.traceql_metrics import MetricsResult, MetricsSeries
from tracehouse.traceql import DURATION_UNITS, Metrics, TraceQLError, parse_pipeline

__all__ = ["BadMetricsRequest", "any_value", "instant_response", "range_response", "read_range"]

MAX_INTERVALS = 11_000  # as Prometheus: more points than a screen shows is a wrong step
MAX_SERIES = 1_000  # Tempo's default max_response_series
DEFAULT_EXEMPLARS = 100
MAX_EXEMPLARS = 100
_NS_LONG = {**DURATION_UNITS, "d": 86_400 * 10**9, "w": 7 * 86_400 * 10**9, "y": 365 * 86_400 * 10**9}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)")
FILLED = {"rate", "count_over_time", "histogram_over_time", "compare"}  # no span: 0, not a gap


class BadMetricsRequest(ValueError):
    """A parameter Tempo would refuse with 400."""


def _duration(raw: str, name: str, units: dict[str, int]) -> int:
    """A Go (``1h30m``, ``500ms``) or Prometheus (``1d``) duration in ns."""
    text, total, pos = raw.strip(), 0, 0
    for match in _PART.finditer(text):
        if match.start() != pos or match.group(2) not in units:
            break
        total += int(float(match.group(1)) * units[match.group(2)])
        pos = match.end()
    if not text or pos != len(text):
        raise BadMetricsRequest(f"invalid {name}: {raw[:40]!r} (a duration such as 30s, 5m or 1h)")
    return total


def _step(raw: str) -> int:
    try:
        seconds = float(raw)
    except ValueError:
        return _duration(raw, "step", DURATION_UNITS)
    if not math.isfinite(seconds) or abs(seconds) > 9.2e9:
        raise BadMetricsRequest(f"invalid step: {raw[:40]!r} overflows")
    return int(seconds * 1e9)


def _timestamp(raw: str, name: str) -> int:
    """Unix ns from Tempo's forms of a time parameter."""
    if "." in raw:
        try:
            seconds = float(raw)
        except ValueError:
            pass
        else:
            if math.isfinite(seconds) and 0 <= seconds < 1e11:
                return round(seconds * 1000) * 10**6
            raise BadMetricsRequest(f"invalid {name}: {raw[:40]!r} is out of range")
    if raw.isascii() and raw.isdigit():
        value = int(raw)
        if value >= 2**63:
            raise BadMetricsRequest(f"invalid {name}: {raw[:40]!r} is out of range")
        return value * 10**9 if len(raw) <= 10 else value
    try:
        parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadMetricsRequest(f"invalid {name}: {raw[:40]!r} (unix seconds, nanoseconds or RFC 3339)") from None
    if parsed.tzinfo is None:
        raise BadMetricsRequest(f"invalid {name}: {raw[:40]!r} has no time zone")
    return int(parsed.timestamp()) * 10**9 + parsed.microsecond * 1000


def default_step(start: int, end: int) -> int:
    """Tempo's default step: about 240 points, rounded down to a granularity."""
    delta = end - start
    baseline = delta // 240
    if delta < 60 * 10**9:
        grain = 50 * 10**6
        return baseline // grain * grain if baseline > grain else grain
    for grain in (3600 * 10**9, 300 * 10**9, 60 * 10**9, 15 * 10**9, 5 * 10**9, 10**9):
        if baseline > grain:
            return baseline // grain * grain
    return 10**9


def read_range(query: Any, instant: bool) -> tuple[Any, Metrics, int, int, int, int]:
    """(filter, metrics, lo, hi, step, exemplars) of a request; lo is exclusive, both aligned to
    the step as Tempo's frontend aligns them (one more interval before the start)."""
    text = query.get("q") or query.get("query") or ""
    if not text.strip():
        raise BadMetricsRequest("missing q: a TraceQL metrics query such as { } | rate()")
    pipeline = parse_pipeline(text)
    if pipeline.metrics is None:
        raise TraceQLError("not a metrics query: add a function such as | rate() or | count_over_time()")
    now = time.time_ns()
    end = _timestamp(query["end"], "end") if query.get("end") else now
    since = _duration(query["since"], "since", _NS_LONG) if query.get("since") else 3600 * 10**9
    start = _timestamp(query["start"], "start") if query.get("start") else min(end, now) - since
    if end <= start:
        raise BadMetricsRequest("invalid start and end: end must be after start")
    raw_exemplars = query.get("exemplars", "")
    if raw_exemplars and not (raw_exemplars.isascii() and raw_exemplars.isdigit()):
        raise BadMetricsRequest(f"invalid exemplars: {raw_exemplars[:40]!r} is not a whole number")
    exemplars = min(int(raw_exemplars), MAX_EXEMPLARS) if raw_exemplars and int(raw_exemplars) else DEFAULT_EXEMPLARS
    if instant:
        return pipeline.filter, pipeline.metrics, start - 1, end, end - start + 1, 0
    step = _step(query["step"]) if query.get("step") else default_step(start, end)
    if step <= 0:
        raise BadMetricsRequest("invalid step: must be positive")
    lo = start - start % step
    if lo > step:
        lo -= step  # Tempo's frontend adds an interval before the start
    hi = end if end % step == 0 else end + step - end % step
    if (hi - lo) // step > MAX_INTERVALS:
        raise BadMetricsRequest(
            f"step {step / 1e9:g}s gives {(hi - lo) // step} points, more than {MAX_INTERVALS}: use a larger step"
        )
    return pipeline.filter, pipeline.metrics, lo, hi, step, exemplars


def any_value(value: Any, kind: str) -> dict[str, Any]:
    """A label's value as OTLP's AnyValue in proto-JSON (int64 as a string)."""
    if kind == "int":
        try:
            return {"intValue": str(int(value))}
        except ValueError:
            pass
    if kind == "double":
        number = float(value)
        if math.isfinite(number):
            return {"doubleValue": number}
    if kind == "bool" and value in ("true", "false"):
        return {"boolValue": value == "true"}
    return {"stringValue": str(value)}


def _labels(series: MetricsSeries) -> list[dict[str, Any]]:
    return [{"key": key, "value": any_value(value, kind)} for key, value, kind in series.labels]


def _second_stage(series: list[MetricsSeries], metrics: Metrics) -> list[MetricsSeries]:
    """topk / bottomk (per point, as Prometheus's) and comparisons with a number, in order."""
    ops = {
        "=": lambda v, x: v == x,
        "!=": lambda v, x: v != x,
        ">": lambda v, x: v > x,
        ">=": lambda v, x: v >= x,
        "<": lambda v, x: v < x,
        "<=": lambda v, x: v <= x,
    }
    for op, arg in metrics.after:
        if op in ("topk", "bottomk"):
            keep: dict[int, set[int]] = {}
            points = sorted({i for s in series for i in s.values})
            for i in points:
                ranked = sorted(
                    (n for n, s in enumerate(series) if i in s.values),
                    key=lambda n, i=i: series[n].values[i],  # type: ignore[misc]
                    reverse=op == "topk",
                )
                for n in ranked[: int(arg)]:
                    keep.setdefault(n, set()).add(i)
            for n, s in enumerate(series):
                s.values = {i: v for i, v in s.values.items() if i in keep.get(n, set())}
        else:
            for s in series:
                s.values = {i: v for i, v in s.values.items() if ops[op](v, arg)}
        series = [s for s in series if s.values]
    return series


def _exemplars(series: MetricsSeries, limit: int, lo: int, step: int) -> list[dict[str, Any]]:
    """Up to ``limit`` of a series' exemplars, spread evenly over its time range."""
    chosen = series.exemplars
    if len(chosen) > limit:
        stride = len(chosen) / limit
        chosen = [chosen[int(n * stride)] for n in range(limit)]
    out = []
    for trace_id, span_id, ms, value in chosen:
        i = (ms * 10**6 - lo - 1) // step
        if i not in series.values:  # the value Tempo gives an exemplar is its point's
            continue
        out.append(
            {
                "labels": [
                    {"key": "trace:id", "value": {"stringValue": trace_id}},
                    {"key": "span:id", "value": {"stringValue": span_id}},
                ],
                "value": value if math.isfinite(value) else series.values[i],
                "timestampMs": str(ms),
            }
        )
    return out


def _finish(result: MetricsResult, metrics: Metrics, intervals: int) -> tuple[list[MetricsSeries], dict[str, Any]]:
    series = result.series
    if metrics.function in FILLED:
        for s in series:
            s.values = {i: s.values.get(i, 0.0) for i in range(intervals)}
    series = _second_stage(series, metrics) if metrics.after else series
    doc: dict[str, Any] = {"metrics": {"inspectedSpans": str(result.spans)}}
    partial = result.partial or len(series) > MAX_SERIES
    if partial:
        series = series[:MAX_SERIES]
        doc["status"] = "PARTIAL"
        doc["message"] = f"Response exceeds maximum series limit of {MAX_SERIES}, a partial response is returned."
    return series, doc


def range_response(
    result: MetricsResult, metrics: Metrics, lo: int, hi: int, step: int, exemplars: int
) -> web.Response:
    """``QueryRangeResponse`` in proto-JSON: points at each interval's end, oldest first."""
    series, doc = _finish(result, metrics, (hi - lo) // step)
    out = []
    for s in series:
        samples = [
            {"timestampMs": str((lo + (i + 1) * step) // 10**6), "value": v}
            for i, v in sorted(s.values.items())
            if math.isfinite(v)
        ]
        if not samples:
            continue
        item: dict[str, Any] = {"labels": _labels(s), "samples": samples}
        if exemplars and s.exemplars:
            item["exemplars"] = _exemplars(s, exemplars, lo, step)
        out.append(item)
    return web.json_response({"series": out, **doc})


def instant_response(result: MetricsResult, metrics: Metrics) -> web.Response:
    """``QueryInstantResponse`` in proto-JSON: one value per series."""
    series, doc = _finish(result, metrics, 1)
    out = [{"labels": _labels(s), "value": s.values[0]} for s in series if 0 in s.values and math.isfinite(s.values[0])]
    return web.json_response({"series": out, **doc})

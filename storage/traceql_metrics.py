"""TraceQL metrics over ``spans``: one SQL query per request, every value a bound parameter.

A span counts in the step interval its start falls in: intervals are right-closed,
``(lo + i*step, lo + (i+1)*step]``, as Tempo's are; the caller aligns ``lo`` and ``hi``.
Counts and sums weight rows by ``sign``, so a Langfuse update (a cancel row and its new
version) counts once before merges collapse it; minimum, maximum, quantiles and exemplars read
the ``sign = 1`` rows, so until such a merge an updated span's older version can show in them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from storage.api import Backend
from storage.traceql_sql import compile_condition, label_value, new_params, numeric_value
from tracehouse.traceql import Attribute, Expr, Intrinsic, Metrics, TraceQLError, field_label

__all__ = ["MAX_ROWS", "MetricsResult", "MetricsSeries", "TraceQLMetrics"]

MAX_ROWS = 500_000  # (series, interval) rows read for one query; more makes the answer partial
MAX_VALUE_BYTES = 256  # compare() leaves out longer values (prompts, completions): no useful group
_WINDOW = """s.project_id = {project:String} AND s.observation_type != 'TRACE'
  AND s.start_time > fromUnixTimestamp64Nano({lo:Int64}, 'UTC')
  AND s.start_time <= fromUnixTimestamp64Nano({hi:Int64}, 'UTC')"""
_INTERVAL = "intDiv(toUnixTimestamp64Nano(s.start_time) - {lo:Int64} - 1, {step:Int64})"
_EXEMPLAR = "tuple(s.trace_id, s.span_id, toUnixTimestamp64Milli(s.start_time))"
_ROOTS = """LEFT JOIN (
    SELECT trace_id AS root_trace_id, toString(argMinMerge(name)) AS rootName,
           toString(argMinMerge(service_name)) AS rootServiceName
    FROM traces
    WHERE project_id = {project:String} AND trace_id IN (SELECT s.trace_id FROM spans AS s WHERE %s)
    GROUP BY trace_id) AS roots ON s.trace_id = roots.root_trace_id"""


@dataclass
class MetricsSeries:
    """One series: labels as (name, value, OTLP type), values by interval index, exemplars as
    (trace id, span id, unix ms, value)."""

    labels: list[tuple[str, Any, str]]
    values: dict[int, float] = field(default_factory=dict)
    exemplars: list[tuple[str, str, int, float]] = field(default_factory=list)


@dataclass
class MetricsResult:
    series: list[MetricsSeries]
    partial: bool = False  # rows past MAX_ROWS were left out
    spans: int = 0  # spans inspected, as far as the query counts them


class TraceQLMetrics:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    async def query(
        self, project: str, expr: Expr, metrics: Metrics, lo: int, hi: int, step: int, exemplars: int
    ) -> MetricsResult:
        """The series of ``metrics`` over spans matching ``expr`` started in ``(lo, hi]`` (unix ns),
        in ``step`` ns intervals; up to ``exemplars`` spans per series (0: none)."""
        if metrics.function == "compare":
            return await self._compare(project, expr, metrics, lo, hi, step)
        params = new_params()
        condition, values = compile_condition(expr, params)
        function = metrics.function
        value = numeric_value(params, metrics.field) if metrics.field is not None else ""
        labels = [label_value(params, f) for f in metrics.by]
        columns = [f"{v} AS l{n}v, {t} AS l{n}t" for n, (v, t) in enumerate(labels)]
        keys = [f"l{n}v, l{n}t" for n in range(len(labels))]
        where = [_WINDOW, condition]
        if function == "histogram_over_time":
            bucket = _bucket(metrics.field, value)
            columns.append(f"{bucket} AS b")
            keys.append("b")
            where.append(f"{bucket} IS NOT NULL")
        if function in ("min_over_time", "max_over_time", "quantile_over_time"):
            where.append("s.sign = 1")  # sign cannot weight these; see the module's docstring
        aggregate, count = _aggregate(function, value, metrics.quantiles)
        exemplar = "NULL"
        if exemplars:
            if value and function != "histogram_over_time":
                exemplar = f"argMaxIf(tuple(s.trace_id, s.span_id, toUnixTimestamp64Milli(s.start_time), {value}), "
                exemplar += f"{value}, s.sign = 1 AND {value} IS NOT NULL)"
            else:
                exemplar = f"anyIf({_EXEMPLAR}, s.sign = 1)"
        join = _ROOTS % " AND ".join(where[:1]) if _uses_roots(metrics.by) else ""
        group = ", ".join([*keys, "i"])
        values.update(project=project, lo=lo, hi=hi, step=step, step_s=step / 1e9, rows=MAX_ROWS + 1)
        sql = f"""
SELECT {", ".join([*columns, f"{_INTERVAL} AS i", f"{aggregate} AS v", f"{count} AS n", f"{exemplar} AS ex"])}
FROM spans AS s {join}
WHERE {" AND ".join(where)}
GROUP BY {group}
HAVING n != 0
ORDER BY {group}
LIMIT {{rows:UInt32}}"""
        rows = await self._backend.query(sql, values)
        partial = len(rows) > MAX_ROWS
        names = [field_label(f) for f in metrics.by]
        out: dict[tuple[Any, ...], MetricsSeries] = {}
        spans = 0
        for row in rows[:MAX_ROWS]:
            spans += int(row["n"])
            label_key = tuple((names[n], row[f"l{n}v"], row[f"l{n}t"]) for n in range(len(names)))
            if function == "histogram_over_time":
                label_key += (("__bucket", float(row["b"]), "double"),)
            if function == "quantile_over_time":
                for q, v in zip(metrics.quantiles, row["v"], strict=True):
                    _add(out, (*label_key, ("p", q, "double")), int(row["i"]), float(v), row["ex"])
                continue
            if not label_key:
                label_key = (("__name__", function, "string"),)
            _add(out, label_key, int(row["i"]), float(row["v"]), row["ex"])
        return MetricsResult(list(out.values()), partial, spans)

    async def _compare(self, project: str, expr: Expr, metrics: Metrics, lo: int, hi: int, step: int) -> MetricsResult:
        """Tempo's ``compare()``: for every attribute, the spans with each of its most frequent
        values, among the selection and among the rest (the baseline), and each side's total."""
        assert metrics.selection is not None
        params = new_params()
        condition, values = compile_condition(expr, params)
        chosen, _ = compile_condition(metrics.selection, params)
        if metrics.window is not None:
            chosen = f"({chosen} AND s.start_time >= fromUnixTimestamp64Nano({{sel_lo:Int64}}, 'UTC') "
            chosen += "AND s.start_time < fromUnixTimestamp64Nano({sel_hi:Int64}, 'UTC'))"
            values.update(sel_lo=metrics.window[0], sel_hi=metrics.window[1])
        values.update(project=project, lo=lo, hi=hi, step=step, top=metrics.top, max_len=MAX_VALUE_BYTES)
        pairs = """arrayFilter(p -> length(p.2) <= {max_len:UInt32}, arrayConcat(
    arrayMap((k, v) -> tuple(concat('span.', k), v, s.span_attribute_types[k]),
             mapKeys(s.span_attributes), mapValues(s.span_attributes)),
    arrayMap((k, v) -> tuple(concat('resource.', k), v, s.resource_attribute_types[k]),
             mapKeys(s.resource_attributes), mapValues(s.resource_attributes)),
    [tuple('name', toString(s.name), ''), tuple('status', lower(toString(s.status_code)), ''),
     tuple('kind', lower(toString(s.kind)), ''), tuple('statusMessage', s.status_message, '')]))"""
        inner = f"""
SELECT if({chosen}, 'selection', 'baseline') AS side, p.1 AS attr, p.2 AS value, p.3 AS type,
       {_INTERVAL} AS i, sum(s.sign) AS c
FROM spans AS s ARRAY JOIN {pairs} AS p
WHERE {_WINDOW} AND {condition} AND NOT (p.1 = 'statusMessage' AND p.2 = '')
GROUP BY side, attr, value, type, i"""
        sql = f"""
SELECT side, attr, value, type, points FROM (
    SELECT side, attr, value, any(type) AS type, groupArray(tuple(i, c)) AS points, sum(c) AS total,
           row_number() OVER (PARTITION BY side, attr ORDER BY total DESC, value) AS rank
    FROM ({inner}) GROUP BY side, attr, value HAVING total != 0)
WHERE rank <= {{top:UInt32}}
ORDER BY side, attr, rank"""
        totals_sql = f"""
SELECT side, attr, i, sum(c) AS c FROM ({inner}) GROUP BY side, attr, i HAVING c != 0 ORDER BY side, attr, i"""
        rows = await self._backend.query(sql, values)
        totals = await self._backend.query(totals_sql, values)
        out: dict[tuple[Any, ...], MetricsSeries] = {}
        for row in rows:
            key = (("__meta_type", row["side"], "string"), (row["attr"], row["value"], row["type"]))
            for point in row["points"]:
                i, c = (point["1"], point["2"]) if isinstance(point, dict) else point
                _add(out, key, int(i), float(c), None)
        spans = 0
        for row in totals:
            key = (("__meta_type", f"{row['side']}_total", "string"), (row["attr"], "nil", "nil"))
            _add(out, key, int(row["i"]), float(row["c"]), None)
            if row["attr"] == "name":  # every span has one name
                spans += int(row["c"])
        return MetricsResult(list(out.values()), spans=spans)


def _aggregate(function: str, value: str, quantiles: tuple[float, ...]) -> tuple[str, str]:
    """(the interval's value, how many spans it stands for) as SQL."""
    if function == "rate":
        return "sum(s.sign) / {step_s:Float64}", "sum(s.sign)"
    if function in ("count_over_time", "histogram_over_time"):
        return "sum(s.sign)", "sum(s.sign)"
    present = f"{value} IS NOT NULL"
    count = f"sumIf(s.sign, {present})"
    if function == "sum_over_time":
        return f"sumIf(s.sign * {value}, {present})", count
    if function == "avg_over_time":
        return f"sumIf(s.sign * {value}, {present}) / {count}", count
    if function == "min_over_time":
        return f"min({value})", f"countIf({present})"
    if function == "max_over_time":
        return f"max({value})", f"countIf({present})"
    if function == "quantile_over_time":
        levels = ", ".join(repr(float(q)) for q in quantiles)  # floats the parser checked, not text
        return f"quantiles({levels})({value})", f"countIf({present})"
    raise TraceQLError(f"unsupported metrics function {function!r}")


def _bucket(field: Intrinsic | Attribute | None, value: str) -> str:
    """The power-of-two bucket Tempo puts a value in (durations in seconds); NULL below 2 (ns)."""
    if isinstance(field, Intrinsic) and field.name == "duration":
        return "if(s.duration_ns < 2, NULL, exp2(ceil(log2(s.duration_ns))) / 1e9)"
    return f"if({value} < 2 OR {value} != floor({value}), NULL, exp2(ceil(log2({value}))))"


def _uses_roots(by: tuple[Intrinsic | Attribute, ...]) -> bool:
    return any(isinstance(f, Intrinsic) and f.name in ("rootName", "rootServiceName") for f in by)


def _add(out: dict[tuple[Any, ...], MetricsSeries], key: tuple[Any, ...], i: int, value: float, exemplar: Any) -> None:
    if math.isnan(value):
        return
    series = out.get(key)
    if series is None:
        series = out[key] = MetricsSeries([(str(k), v, str(t)) for k, v, t in key])
    series.values[i] = value
    if exemplar:
        parts = list(exemplar.values()) if isinstance(exemplar, dict) else list(exemplar)
        if parts[0]:  # anyIf over no row gives an empty tuple
            series.exemplars.append(
                (str(parts[0]), str(parts[1]), int(parts[2]), float(parts[3]) if len(parts) > 3 else value)
            )

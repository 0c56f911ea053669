"""Queries behind the Tempo-compatible API: TraceQL search, tag names and tag values."""

from __future__ import annotations

from typing import Any

from storage.api import Backend, Row
from storage.traceql_metrics import MetricsResult, TraceQLMetrics
from storage.traceql_sql import (
    STRING_FALLBACK,
    SqlParams,
    array_items,
    compile_condition,
    label_value,
    new_params,
    numeric_value,
)
from tracehouse.traceql import Aggregate, Expr, Field, Intrinsic, Metrics, SpansetExpr
from tracehouse.traceql_structure import TraceSpan, leaves, matches, nested_set

__all__ = ["TempoReader"]

_WINDOW = """s.project_id = {project:String} AND s.sign = 1 AND s.observation_type != 'TRACE'
  AND s.start_time >= fromUnixTimestamp64Nano({start:Int64}, 'UTC')
  AND s.start_time < fromUnixTimestamp64Nano({end:Int64}, 'UTC')"""


STRUCTURE_TRACES = 2_000  # traces a query of several spansets reads whole, newest first
STRUCTURE_PAGE = 100  # at least this many traces read at a time
STRUCTURE_SPANS = 10_000  # spans of one such trace (a bigger trace is judged on these)
NESTED_SET = ("nestedSetLeft", "nestedSetRight", "nestedSetParent")


class TempoReader:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._metrics = TraceQLMetrics(backend)

    async def metrics(
        self, project: str, expr: Expr, metrics: Metrics, lo: int, hi: int, step: int, exemplars: int
    ) -> MetricsResult:
        """TraceQL metrics (``storage/traceql_metrics.py``)."""
        return await self._metrics.query(project, expr, metrics, lo, hi, step, exemplars)

    async def search(
        self,
        project: str,
        expr: Expr,
        start: int,
        end: int,
        limit: int,
        spans_per_set: int,
        min_duration: int | None = None,
        max_duration: int | None = None,
        tags: dict[str, str] | None = None,
        select: tuple[Field, ...] = (),
        having: tuple[Aggregate, ...] = (),
    ) -> list[Row]:
        """Traces with a span matching ``expr`` (and the legacy filters), newest first, with up to
        ``spans_per_set`` matching spans each and the trace's root name, service and duration.
        Each span carries the values of the ``select`` fields it has, as (name, value, type).
        ``having``: tests of each trace's matching spans (``count() > 2``) that must all hold."""
        shared = new_params()
        condition, params = compile_condition(expr, shared)
        names, picked = _selected(shared, select)
        params.update(project=project, start=start, end=end, limit=limit, spss=spans_per_set)
        where = [condition]
        for i, (key, value) in enumerate((tags or {}).items()):
            params[f"tk{i}"], params[f"tv{i}"] = key, value.lower()
            where.append(
                f"(positionCaseInsensitive(span_attributes[{{tk{i}:String}}], {{tv{i}:String}}) > 0 "
                f"OR positionCaseInsensitive(resource_attributes[{{tk{i}:String}}], {{tv{i}:String}}) > 0"
                + (f" OR positionCaseInsensitive(toString(name), {{tv{i}:String}}) > 0" if key == "name" else "")
                + ")"
            )
        if min_duration is not None:
            where.append("s.duration_ns >= {min_d:UInt64}")
            params["min_d"] = min_duration
        if max_duration is not None:
            where.append("s.duration_ns <= {max_d:UInt64}")
            params["max_d"] = max_duration
        tests = ["1"]
        for n, aggregate in enumerate(having):
            if aggregate.function == "count":
                of = "count()"
            else:
                assert aggregate.field is not None
                of = f"{aggregate.function}({numeric_value(shared, aggregate.field)})"
            params[f"hv{n}"] = aggregate.value
            tests.append(f"{of} {aggregate.op} {{hv{n}:Float64}}")
        sql = f"""
SELECT s.trace_id AS trace_id,
       count() AS matched,
       groupArray({{spss:UInt32}})(tuple(s.span_id, toString(s.name), toUnixTimestamp64Nano(s.start_time),
                                         s.duration_ns, {picked})) AS spans,
       max(s.start_time) AS newest
FROM spans AS s
WHERE {_WINDOW} AND {" AND ".join(where)}
GROUP BY s.trace_id
HAVING {" AND ".join(tests)}
ORDER BY newest DESC
LIMIT {{limit:UInt32}}
"""
        rows = await self._backend.query(sql, params)
        for row in rows:
            row["spans"] = [_span_tuple(t, names) for t in row["spans"]]
        return await self._with_summaries(project, rows)

    async def search_structure(
        self,
        project: str,
        structure: SpansetExpr,
        start: int,
        end: int,
        limit: int,
        spans_per_set: int,
        select: tuple[Field, ...] = (),
    ) -> list[Row]:
        """``search`` for a query of several spansets (``&&``, ``||``, structural operators), or
        one that selects the nested-set numbers: traces with a span matching any of its spansets
        are read whole (their spans in the window), newest first, a page at a time, up to
        ``STRUCTURE_TRACES`` of them, and the operators applied to each
        (``tracehouse/traceql_structure.py``)."""
        shared = new_params()
        flags = [compile_condition(leaf.filter, shared)[0] for leaf in leaves(structure)]
        numbered = [f for f in select if isinstance(f, Intrinsic) and f.name in NESTED_SET]
        names, picked = _selected(shared, tuple(f for f in select if f not in numbered))
        params = shared.values
        params.update(project=project, start=start, end=end, per_trace=STRUCTURE_SPANS)
        sql = f"""
SELECT s.trace_id AS trace_id, max(s.start_time) AS newest,
       groupArray({{per_trace:UInt32}})(tuple(s.span_id, s.parent_span_id, toUnixTimestamp64Nano(s.start_time),
           s.duration_ns, toString(s.name), [{", ".join(f"toUInt8({c})" for c in flags)}], {picked})) AS spans
FROM spans AS s
WHERE {_WINDOW} AND s.trace_id IN (
    SELECT s.trace_id FROM spans AS s WHERE {_WINDOW} AND ({" OR ".join(flags)})
    GROUP BY s.trace_id ORDER BY max(s.start_time) DESC, s.trace_id LIMIT {{page:UInt32}} OFFSET {{skip:UInt32}})
GROUP BY s.trace_id
ORDER BY newest DESC, trace_id"""
        found: list[Row] = []
        page = min(max(2 * limit, STRUCTURE_PAGE), STRUCTURE_TRACES)  # most traces match: read about what is shown
        for skip in range(0, STRUCTURE_TRACES, page):
            rows = await self._backend.query(sql, {**params, "page": page, "skip": skip})
            for row in rows:
                hit = _structure_match(row, structure, spans_per_set, names, numbered)
                if hit is not None:
                    found.append(hit)
                    if len(found) == limit:
                        break
            if len(found) == limit or len(rows) < page:
                break
        return await self._with_summaries(project, found)

    async def _with_summaries(self, project: str, rows: list[Row]) -> list[Row]:
        """``rows`` with each trace's start, duration, root name and service from its summary."""
        if not rows:
            return []
        summaries = await self._backend.query(
            """
SELECT trace_id, toUnixTimestamp64Nano(min(start_time)) AS start_ns,
       toUnixTimestamp64Nano(max(end_time)) - toUnixTimestamp64Nano(min(start_time)) AS duration_ns,
       argMinMerge(name) AS root_name, argMinMerge(service_name) AS root_service,
       sum(span_count) AS span_count, sum(error_count) AS error_count
FROM traces WHERE project_id = {project:String} AND trace_id IN {ids:Array(String)}
GROUP BY trace_id""",
            {"project": project, "ids": [r["trace_id"] for r in rows]},
        )
        by_id = {s["trace_id"]: s for s in summaries}
        for row in rows:
            row.update(by_id.get(row["trace_id"], {}))
        return rows

    async def tag_names(self, project: str, start: int, end: int, limit: int) -> dict[str, list[str]]:
        """Attribute keys seen in the window, by scope."""
        params = {"project": project, "start": start, "end": end, "limit": limit}
        out = {}
        for scope, column in (("span", "span_attributes"), ("resource", "resource_attributes")):
            rows = await self._backend.query(
                f"SELECT DISTINCT arrayJoin(mapKeys(s.{column})) AS k FROM spans AS s WHERE {_WINDOW} "
                "ORDER BY k LIMIT {limit:UInt32}",
                params,
            )
            out[scope] = [r["k"] for r in rows]
        # The GenAI attributes that TraceQL reads from the typed columns (storage.traceql_sql), named
        # where a span has the column though not the attribute (OpenInference's, Langfuse's).
        names = sorted(n for n in STRING_FALLBACK if n != "gen_ai.system")  # not the older name too
        [present] = await self._backend.query(
            "SELECT "
            + ", ".join(f"max({STRING_FALLBACK[n]} != '') AS f{i}" for i, n in enumerate(names))
            + f" FROM spans AS s WHERE {_WINDOW}",
            params,
        )
        typed = [n for i, n in enumerate(names) if present[f"f{i}"] and n not in out["span"]]
        out["span"] = sorted(out["span"] + typed)[:limit]
        return out

    async def tag_values(
        self, project: str, scope: str, name: str, start: int, end: int, limit: int, expr: Expr | None
    ) -> list[tuple[str, str]]:
        """(type, value) pairs of one attribute or intrinsic, optionally among spans matching ``expr``."""
        condition, params = compile_condition(expr) if expr is not None else ("1", {})
        params.update(project=project, start=start, end=end, limit=limit, key=name)
        if scope == "intrinsic":
            column = {
                "name": "toString(s.name)",
                "statusMessage": "s.status_message",
                "rootServiceName": "toString(s.service_name)",
                "rootName": "toString(s.name)",
                "instrumentationName": "toString(s.scope_name)",
                "instrumentationVersion": "toString(s.scope_version)",
            }.get(name)
            if column is None:  # ids and positions: no list of values is of use
                return []
            rows = await self._backend.query(
                f"SELECT DISTINCT {column} AS v FROM spans AS s WHERE {_WINDOW} AND {condition} AND {column} != '' "
                "ORDER BY v LIMIT {limit:UInt32}",
                params,
            )
            return [("string", r["v"]) for r in rows]
        columns = {"span": ["span"], "resource": ["resource"], "": ["span", "resource"]}[scope]
        values: dict[str, str] = {}
        for prefix in columns:
            values_col, types_col = f"s.{prefix}_attributes", f"s.{prefix}_attribute_types"
            value, has = f"{values_col}[{{key:String}}]", f"mapContains({values_col}, {{key:String}})"
            typed = STRING_FALLBACK.get(name) if prefix == "span" else None
            if typed:  # the attribute, else the typed column TraceQL reads for it
                value, has = f"if({has}, {value}, {typed})", f"({has} OR {typed} != '')"
            # An array's values are its elements (what a TraceQL condition on it matches), typed as text.
            kind = f"{types_col}[{{key:String}}]"
            rows = await self._backend.query(
                f"SELECT arrayJoin(if({kind} = 'array', {array_items(value)}, [{value}])) AS v, "
                f"any(if({kind} = 'array', '', {kind})) AS t "
                f"FROM spans AS s WHERE {_WINDOW} AND {condition} AND {has} "
                "GROUP BY v ORDER BY v LIMIT {limit:UInt32}",
                params,
            )
            for r in rows:
                values.setdefault(r["v"], {"int": "int", "double": "float", "bool": "bool"}.get(r["t"], "string"))
        return [(kind, value) for value, kind in values.items()][:limit]


def _span_tuple(value: Any, names: list[str]) -> tuple[str, str, int, int, list[tuple[str, str, str]]]:
    if isinstance(value, dict):  # Arrow gives tuples as structs
        value = list(value.values())
    span_id, name, start, duration, values, types = value
    picked = [(n, str(v), str(t)) for n, v, t in zip(names, values, types, strict=True) if t != "nil"]
    return str(span_id), str(name), int(start), int(duration), picked


def _structure_match(
    row: Row, structure: SpansetExpr, spans_per_set: int, names: list[str], numbered: list[Intrinsic]
) -> Row | None:
    """One candidate trace of ``search_structure``: its matching spans (up to ``spans_per_set``,
    by start, with the selected values and nested-set numbers), or None when it does not match."""
    spans: dict[str, tuple[Any, ...]] = {}
    for value in row["spans"]:
        parts = list(value.values()) if isinstance(value, dict) else list(value)
        spans[str(parts[0])] = tuple(parts)  # one row per span (versions are alike here)
    tree = [TraceSpan(k, str(p[1]), int(p[2]), tuple(bool(f) for f in p[5])) for k, p in spans.items()]
    chosen_ids = matches(structure, tree)
    if not chosen_ids:
        return None
    numbers = nested_set(tree) if numbered else {}
    out = []
    for k in sorted(chosen_ids, key=lambda k: (spans[k][2], k))[:spans_per_set]:
        _, _, begin, duration, name, _, values, types = spans[k]
        extra = [(n, str(v), str(t)) for n, v, t in zip(names, values, types, strict=True) if t != "nil"]
        if k in numbers:
            left, right, parent = numbers[k]
            by_name = {"nestedSetLeft": left, "nestedSetRight": right, "nestedSetParent": parent}
            extra += [(f.name, str(by_name[f.name]), "int") for f in numbered]
        out.append((k, str(name), int(begin), int(duration), extra))
    return {"trace_id": row["trace_id"], "matched": len(chosen_ids), "spans": out}


def _selected(params: SqlParams, select: tuple[Field, ...]) -> tuple[list[str], str]:
    """The ``select`` fields a span answer carries: their names (as Tempo names them: without the
    scope) and the SQL of two arrays, their values and their types."""
    fields = [f for f in select if not _given_already(f)]
    chosen = [label_value(params, f) for f in fields]
    picked = f"[{', '.join(v for v, _ in chosen)}], [{', '.join(t for _, t in chosen)}]"
    return [f.name for f in fields], picked


def _given_already(field: Field) -> bool:
    """Fields a search answer gives in their own places, which Tempo leaves out of a span's attributes."""
    given = ("name", "duration", "traceDuration", "rootName", "rootServiceName", "traceId", "spanId")
    return isinstance(field, Intrinsic) and field.name in given

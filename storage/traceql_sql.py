"""TraceQL AST -> a SQL condition over one ``spans`` row, every value a bound parameter.

Attribute values are stored as strings (with their type in a parallel map): numeric
comparisons convert with ``toFloat64OrNull``; ``!=`` and negative regexes match only spans
that have the attribute, as in Tempo; ``= nil`` means the attribute is absent.

Trace-level intrinsics (traceDuration, rootName, rootServiceName) become a test of the span's
trace against the per-trace summary, in place, so they combine with AND and OR like any other
comparison. The condition uses the ``{project:String}`` parameter, which the caller binds.
"""

from __future__ import annotations

from typing import Any

from storage.tables import array_keys
from tracehouse.traceql import And, Attribute, Compare, Expr, Intrinsic, Literal, MatchAll, Or, TraceQLError

__all__ = [
    "STRING_FALLBACK",
    "SqlParams",
    "array_items",
    "attribute_equals",
    "compile_condition",
    "label_value",
    "new_params",
    "numeric_value",
]

STATUS = {"error": "ERROR", "ok": "OK", "unset": "UNSET"}
KINDS = {"server", "client", "producer", "consumer", "internal", "unspecified"}
SQL_OPS = {"=": "=", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
# Trace-level intrinsics are answered from the per-trace summary.
TRACE_LEVEL = {
    "traceDuration": (
        "toInt64(toUnixTimestamp64Nano(max(end_time)) - toUnixTimestamp64Nano(min(start_time)))",
        "Int64",
    ),
    "rootName": ("argMinMerge(name)", "String"),
    "rootServiceName": ("argMinMerge(service_name)", "String"),
}


# String intrinsics read from a span's own columns.
SPAN_COLUMNS = {
    "traceId": "s.trace_id",
    "spanId": "s.span_id",
    "parentId": "s.parent_span_id",
    "instrumentationName": "toString(s.scope_name)",
    "instrumentationVersion": "toString(s.scope_version)",
}
# Typed columns that answer for GenAI attributes on model calls: what a call's own attribute says
# is not always what it counts (a wrapper's record of a call counted on another record of it
# counts none; an input count without its cache counts it here), and Langfuse's and
# OpenInference's spans do not carry them as such. Metrics over them then cover every source and
# add up to what the trace page and the Prometheus API count. Other spans answer as sent.
NUMERIC_FALLBACK = {
    "gen_ai.usage.input_tokens": "toFloat64(s.input_tokens)",
    "gen_ai.usage.output_tokens": "toFloat64(s.output_tokens)",
    "gen_ai.usage.cost": "toFloat64(s.total_cost)",
}
LLM_CALL = "s.observation_type IN ('GENERATION', 'EMBEDDING')"
# Likewise the model, operation and provider that the receiver reads from every source's own
# attributes (OpenInference's llm.model_name, Langfuse's observation model, the ingestion API):
# where a span lacks the GenAI attribute, the typed column answers for it.
STRING_FALLBACK = {
    "gen_ai.request.model": "toString(s.request_model)",
    "gen_ai.response.model": "toString(s.response_model)",
    "gen_ai.operation.name": "toString(s.operation)",
    "gen_ai.provider.name": "toString(s.provider)",
    "gen_ai.system": "toString(s.provider)",
}


class SqlParams:
    """Bound parameters of a compiled query, named so that several compiled parts can share them."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def bind(self, value: Any, kind: str) -> str:
        name = f"tq{len(self.values)}"
        self.values[name] = value
        return f"{{{name}:{kind}}}"


def _int64(value: object) -> int:
    """A duration as ns, within Int64 (a negative one, or one past it, still binds)."""
    number: int = int(value)  # type: ignore[call-overload]
    return max(-(2**63), min(2**63 - 1, number))


def _regex(params: SqlParams, expr: str, op: str, pattern: str) -> str:
    # TraceQL regexes match the whole value (Tempo anchors them).
    bound = params.bind(f"^(?:{pattern})$", "String")
    test = f"match({expr}, {bound})"
    return test if op == "=~" else f"NOT {test}"


def _scalar(params: SqlParams, expr: str, op: str, value: Literal, numeric_expr: str | None = None) -> str:
    if op in ("=~", "!~"):
        return _regex(params, expr, op, str(value.value))
    if value.kind in ("int", "float", "duration"):
        target = numeric_expr or f"toFloat64OrNull({expr})"
        return f"{target} {SQL_OPS[op]} {params.bind(float(value.value), 'Float64')}"  # type: ignore[arg-type]
    if value.kind == "bool":
        return f"{expr} {SQL_OPS[op]} {params.bind('true' if value.value else 'false', 'String')}"
    return f"{expr} {SQL_OPS[op]} {params.bind(str(value.value), 'String')}"


# How an array attribute's stored text begins (storage.attribute_codec writes it, orjson's compact form).
ARRAY_PREFIX = '{"arrayValue":'


def array_items(stored: str) -> str:
    """SQL: the elements of an array attribute, stored as its OTLP/JSON text, each as the text a
    scalar of its type is stored as (``sdk-v4``, ``429``, ``1.5``, ``true``)."""
    raw = f"arrayMap(e -> (JSONExtractKeysAndValuesRaw(e)[1]).2, JSONExtractArrayRaw({stored}, 'arrayValue', 'values'))"
    return f"arrayMap(r -> if(JSONType(r) = 'String', JSONExtractString(r), r), {raw})"


def _by_type(column: str, key: str, scalar: str, element: str, negated: bool = False) -> str:
    """SQL: ``scalar`` of the attribute ``key`` of a map ``column``, or where it is an array, that
    one of its elements meets ``element`` (of ``x``), as Tempo reads an array (negated: none does).

    An array is known by its stored text (its OTLP/JSON): reading the type map to tell would cost
    a scan of it. The spans table's indexes still skip granules: the values' for ``scalar``, and
    for the array ``idx_span_attr_arrays``, named in an ``indexHint`` (read by the index
    analysis, never evaluated)."""
    stored = f"{column}[{key}]"
    is_array = f"startsWith({stored}, '{ARRAY_PREFIX}')"
    found = f"arrayExists(x -> {element}, {array_items(stored)})"
    hint = f"indexHint(has({array_keys(column.replace('attributes', 'attribute_types'))}, {key}))"
    return f"((NOT {is_array} AND {scalar}) OR ({is_array} AND {'NOT ' if negated else ''}{found} AND {hint}))"


def attribute_equals(column: str, key: str, value: str) -> str:
    """SQL: the attribute ``key`` of a map ``column`` (``span_attributes``) is ``value``, or, an
    array's (a trace's tags from the langfuse SDKs), has it as an element. Key and value are bound."""
    return _by_type(column, key, f"{column}[{key}] = {value}", f"x = {value}")


def _attribute(params: SqlParams, field: Attribute, op: str, value: Literal) -> str:
    if field.name in NUMERIC_FALLBACK and field.scope in ("span", "") and value.kind in ("int", "float"):
        # tokens and cost compare as their metrics read them, whatever sent the span
        bound = params.bind(float(value.value), "Float64")  # type: ignore[arg-type]
        return f"({numeric_value(params, field)} {SQL_OPS[op]} {bound})" if op in SQL_OPS else "0"
    maps = {
        "span": ["span_attributes"],
        "resource": ["resource_attributes"],
        "": ["span_attributes", "resource_attributes"],
    }[field.scope]
    key = params.bind(field.name, "String")
    parts = []
    for column in maps:
        has = f"mapContains({column}, {key})"
        expr = f"{column}[{key}]"
        typed = STRING_FALLBACK.get(field.name) if column == "span_attributes" else None
        if typed:  # the span's attribute, else its typed column (set or not, for nil too)
            expr = f"if({has}, {expr}, {typed})"
            has = f"({has} OR {typed} != '')"
        if value.kind == "nil":
            parts.append(f"NOT {has}" if op == "=" else has)
            continue
        if field.name == "service.name" and column == "resource_attributes" and op in ("=", "!=", "=~", "!~"):
            expr = "toString(service_name)"
        # An array matches by its elements, as Tempo's does: = when one element equals, != when none.
        element = _scalar(params, "x", {"!=": "=", "!~": "=~"}.get(op, op), value)
        test = _by_type(column, key, _scalar(params, expr, op, value), element, negated=op in ("!=", "!~"))
        parts.append(f"({has} AND {test})")
    if value.kind == "nil" and op == "=" and len(parts) > 1:
        return "(" + " AND ".join(parts) + ")"
    return "(" + " OR ".join(parts) + ")"


def _intrinsic(params: SqlParams, field: Intrinsic, op: str, value: Literal) -> str:
    name = field.name
    if value.kind == "nil":
        return "0" if op == "=" else "1"
    if name == "name":
        return _scalar(params, "name", op, value)
    if name == "statusMessage":
        return _scalar(params, "status_message", op, value)
    if name == "status":
        if value.kind != "keyword" or value.value not in STATUS or op not in ("=", "!="):
            raise TraceQLError("status compares with = or != to error, ok or unset")
        return f"status_code {op} {params.bind(STATUS[str(value.value)], 'String')}"
    if name == "kind":
        if value.kind != "keyword" or value.value not in KINDS or op not in ("=", "!="):
            raise TraceQLError(
                "kind compares with = or != to server, client, producer, consumer, internal, unspecified"
            )
        return f"kind {op} {params.bind(str(value.value).upper(), 'String')}"
    if name == "duration":
        if value.kind not in ("duration", "int", "float") or op in ("=~", "!~"):
            raise TraceQLError("duration compares with a duration such as 100ms or 1.5s")
        return f"duration_ns {SQL_OPS[op]} {params.bind(_int64(value.value), 'Int64')}"
    if name == "nestedSetParent":
        # Tempo numbers a trace's spans as a nested set; a root span's parent is -1. Only
        # "is a root" and "is not a root" mean anything without that numbering.
        if value.kind != "int" or op in ("=~", "!~"):
            raise TraceQLError("nestedSetParent compares with a number: nestedSetParent < 0 is a root span")
        n = int(value.value)  # type: ignore[call-overload]
        root = {"<": n <= 0, "=": n == -1, "<=": n < 0}.get(op)
        child = {">": n >= -1, ">=": n >= 0, "!=": n == -1}.get(op)
        if root:
            return "s.parent_span_id = ''"
        if child:
            return "s.parent_span_id != ''"
        raise TraceQLError("nestedSetParent: use nestedSetParent < 0 (root spans) or nestedSetParent >= 0")
    if name in ("nestedSetLeft", "nestedSetRight"):
        raise TraceQLError(f"{name} can only be selected: compare nestedSetParent < 0 for root spans")
    if name in SPAN_COLUMNS:
        if value.kind != "string":
            raise TraceQLError(f"{name} compares with a string")
        return _scalar(params, SPAN_COLUMNS[name], op, value)
    if name in TRACE_LEVEL:
        expr = TRACE_LEVEL[name][0]
        if name == "traceDuration":
            if value.kind not in ("duration", "int", "float") or op in ("=~", "!~"):
                raise TraceQLError("traceDuration compares with a duration such as 2s")
            condition = f"{expr} {SQL_OPS[op]} {params.bind(_int64(value.value), 'Int64')}"
        else:
            scalar = _scalar(params, expr, op, value) if value.kind == "string" else None
            if scalar is None:
                raise TraceQLError(f"{name} compares with a string")
            condition = scalar
        return (
            "trace_id IN (SELECT trace_id FROM traces WHERE project_id = {project:String} "
            f"GROUP BY trace_id HAVING {condition})"
        )
    raise TraceQLError(f"unsupported intrinsic {name!r}")


def _compile(params: SqlParams, expr: Expr) -> str:
    if isinstance(expr, MatchAll):
        return "1"
    if isinstance(expr, And):
        return f"({_compile(params, expr.left)} AND {_compile(params, expr.right)})"
    if isinstance(expr, Or):
        return f"({_compile(params, expr.left)} OR {_compile(params, expr.right)})"
    if isinstance(expr, Compare):
        if isinstance(expr.field, Attribute):
            return _attribute(params, expr.field, expr.op, expr.value)
        return _intrinsic(params, expr.field, expr.op, expr.value)
    raise TraceQLError(f"unsupported expression {expr!r}")


def compile_condition(expr: Expr, params: SqlParams | None = None) -> tuple[str, dict[str, Any]]:
    """(span condition, parameters); the caller binds ``project`` too."""
    params = params or SqlParams()
    condition = _compile(params, expr)
    return condition, params.values


def _attribute_pair(params: SqlParams, field: Attribute) -> tuple[str, str]:
    """(value, OTLP type) of an attribute as SQL; NULL value where the span lacks it."""
    key = params.bind(field.name, "String")
    scopes = {"span": ["span"], "resource": ["resource"], "": ["span", "resource"]}[field.scope]
    value, kind = "NULL", "''"
    for scope in reversed(scopes):  # the span's own attribute wins over its resource's
        has = f"mapContains(s.{scope}_attributes, {key})"
        if scope == "span" and field.name in STRING_FALLBACK:  # then its typed column
            typed = STRING_FALLBACK[field.name]
            value, kind = f"if({typed} != '', {typed}, {value})", f"if({typed} != '', '', {kind})"
        value = f"if({has}, s.{scope}_attributes[{key}], {value})"
        kind = f"if({has}, s.{scope}_attribute_types[{key}], {kind})"
    return value, kind


def label_value(params: SqlParams, field: Intrinsic | Attribute) -> tuple[str, str]:
    """(value, type) SQL of a ``by()`` field. The type is an OTLP attribute type (``int``,
    ``double``, ``bool``, else a string) or ``nil`` where the span has no such value."""
    if isinstance(field, Attribute):
        if field.scope == "resource" and field.name == "service.name":
            # the column the receiver fills from it: a dictionary read, not a map lookup per span
            return "if(s.service_name = '', 'nil', toString(s.service_name))", "if(s.service_name = '', 'nil', '')"
        value, kind = _attribute_pair(params, field)
        return f"ifNull({value}, 'nil')", f"if({value} IS NULL, 'nil', {kind})"
    name = field.name
    columns = {
        "name": "toString(s.name)",
        "status": "lower(toString(s.status_code))",
        "kind": "lower(toString(s.kind))",
        "statusMessage": "s.status_message",
        **SPAN_COLUMNS,
    }
    if name in columns:
        return columns[name], "''"
    if name in ("rootName", "rootServiceName"):
        # from the trace summaries joined as ``roots`` (storage/traceql_metrics.py)
        return f"if(roots.root_trace_id = '', 'nil', roots.{name})", "if(roots.root_trace_id = '', 'nil', '')"
    raise TraceQLError(f"{name} cannot group a metric: use a span attribute or name, status, kind, rootName")


def numeric_value(params: SqlParams, field: Intrinsic | Attribute) -> str:
    """A field's number for the *_over_time functions (NULL where it has none); durations in
    seconds, as Tempo gives them."""
    if isinstance(field, Intrinsic):
        if field.name == "duration":
            return "s.duration_ns / 1e9"
        raise TraceQLError(f"{field.name} is not a number: use duration or a numeric attribute")
    value, kind = _attribute_pair(params, field)
    number = f"if({kind} IN ('int', 'double'), toFloat64OrNull({value}), NULL)"
    if field.name in NUMERIC_FALLBACK and field.scope in ("span", ""):
        number = f"if({LLM_CALL}, {NUMERIC_FALLBACK[field.name]}, {number})"
    return number


def new_params() -> SqlParams:
    """A parameter set that several compiled parts share (their names do not collide)."""
    return SqlParams()

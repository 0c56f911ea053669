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

from tracehouse.traceql import And, Attribute, Compare, Expr, Intrinsic, Literal, MatchAll, Or, TraceQLError

__all__ = ["compile_condition"]

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


class _Params:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def bind(self, value: Any, kind: str) -> str:
        name = f"tq{len(self.values)}"
        self.values[name] = value
        return f"{{{name}:{kind}}}"


def _regex(params: _Params, expr: str, op: str, pattern: str) -> str:
    # TraceQL regexes match the whole value (Tempo anchors them).
    bound = params.bind(f"^(?:{pattern})$", "String")
    test = f"match({expr}, {bound})"
    return test if op == "=~" else f"NOT {test}"


def _scalar(params: _Params, expr: str, op: str, value: Literal, numeric_expr: str | None = None) -> str:
    if op in ("=~", "!~"):
        return _regex(params, expr, op, str(value.value))
    if value.kind in ("int", "float", "duration"):
        target = numeric_expr or f"toFloat64OrNull({expr})"
        return f"{target} {SQL_OPS[op]} {params.bind(float(value.value), 'Float64')}"  # type: ignore[arg-type]
    if value.kind == "bool":
        return f"{expr} {SQL_OPS[op]} {params.bind('true' if value.value else 'false', 'String')}"
    return f"{expr} {SQL_OPS[op]} {params.bind(str(value.value), 'String')}"


def _attribute(params: _Params, field: Attribute, op: str, value: Literal) -> str:
    maps = {
        "span": ["span_attributes"],
        "resource": ["resource_attributes"],
        "": ["span_attributes", "resource_attributes"],
    }[field.scope]
    key = params.bind(field.name, "String")
    parts = []
    for column in maps:
        has = f"mapContains({column}, {key})"
        if value.kind == "nil":
            parts.append(f"NOT {has}" if op == "=" else has)
            continue
        if field.name == "service.name" and column == "resource_attributes" and op in ("=", "!=", "=~", "!~"):
            expr = "toString(service_name)"
        else:
            expr = f"{column}[{key}]"
        parts.append(f"({has} AND {_scalar(params, expr, op, value)})")
    if value.kind == "nil" and op == "=" and len(parts) > 1:
        return "(" + " AND ".join(parts) + ")"
    return "(" + " OR ".join(parts) + ")"


def _intrinsic(params: _Params, field: Intrinsic, op: str, value: Literal) -> str:
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
        return f"duration_ns {SQL_OPS[op]} {params.bind(int(value.value), 'UInt64')}"  # type: ignore[call-overload]
    if name in TRACE_LEVEL:
        expr = TRACE_LEVEL[name][0]
        if name == "traceDuration":
            if value.kind not in ("duration", "int", "float") or op in ("=~", "!~"):
                raise TraceQLError("traceDuration compares with a duration such as 2s")
            condition = f"{expr} {SQL_OPS[op]} {params.bind(int(value.value), 'Int64')}"  # type: ignore[call-overload]
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


def _compile(params: _Params, expr: Expr) -> str:
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


def compile_condition(expr: Expr) -> tuple[str, dict[str, Any]]:
    """(span condition, parameters); the caller binds ``project`` too."""
    params = _Params()
    condition = _compile(params, expr)
    return condition, params.values

"""A TraceQL subset: parser and AST (no SQL here; storage compiles the AST).

Supported: one spanset ``{ ... }`` with ``&&``, ``||`` and parentheses; conditions
``<field> <op> <value>`` where the field is an intrinsic (name, status, kind, duration,
statusMessage, traceDuration, rootName, rootServiceName, nestedSetParent, and the
``span:``/``trace:`` forms) or an attribute (``resource.x``, ``span.x``, unscoped ``.x``);
operators ``= != > >= < <= =~ !~``; values that are strings, numbers, durations
(``ns us µs ms s m h``), ``true``/``false``, keywords (``error ok unset``, span kinds) and
``nil``; ``{}`` and ``{ true }`` match every span.

``parse_pipeline`` takes more: spansets joined by ``&&``, ``||`` and the structural
operators (``> >> < << ~``, each also with ``&`` or ``!``), with parentheses; then a pipeline:
for search, ``| select(field, ...)`` and aggregates compared with a number (``| count() > 2``,
``| avg(duration) > 1s``); or one metrics function (``rate``, ``count_over_time``,
``sum|avg|min|max_over_time(field)``, ``quantile_over_time(field, q, ...)``,
``histogram_over_time(field)``, ``compare({selection}, n[, start, end])``) with
``by (field, ...)``, then ``topk(n)``, ``bottomk(n)`` or a comparison with a number
(``> 10``); ``with(...)`` hints are accepted and ignored. Anything else is a ``TraceQLError``
naming the position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Union

from tracehouse.errors import InvalidInput

__all__ = [
    "Aggregate",
    "And",
    "Attribute",
    "Compare",
    "Intrinsic",
    "Literal",
    "MatchAll",
    "Metrics",
    "Or",
    "Pipeline",
    "Spanset",
    "SpansetExpr",
    "SpansetOp",
    "TraceQLError",
    "parse",
    "parse_pipeline",
]


class TraceQLError(InvalidInput, ValueError):
    """The query is outside the supported subset or malformed (a 400 wherever it is raised)."""


@dataclass(frozen=True)
class Intrinsic:
    name: str  # name status kind duration statusMessage traceDuration rootName rootServiceName


@dataclass(frozen=True)
class Attribute:
    scope: str  # "span" | "resource" | "" (either)
    name: str


@dataclass(frozen=True)
class Literal:
    kind: str  # string int float duration bool keyword nil
    value: object


@dataclass(frozen=True)
class Compare:
    field: Intrinsic | Attribute
    op: str
    value: Literal


@dataclass(frozen=True)
class And:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Or:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class MatchAll:
    pass


Expr = Union[Compare, And, Or, MatchAll]  # noqa: UP007 - a type alias used at run time
Field = Union[Intrinsic, Attribute]  # noqa: UP007


def field_label(field: Field) -> str:
    """A field as Tempo names it in a series label: ``resource.service.name``, ``.x``, ``name``."""
    if isinstance(field, Intrinsic):
        return field.name
    return f"{field.scope}.{field.name}"


@dataclass(frozen=True)
class Metrics:
    """A metrics function over the spans a spanset matches, per step, per ``by`` group."""

    function: str  # one of METRICS_FUNCTIONS
    field: Field | None = None  # the value of the *_over_time functions
    quantiles: tuple[float, ...] = ()
    by: tuple[Field, ...] = ()
    selection: Expr | None = None  # compare()'s spans of interest
    top: int = 10  # compare()'s values per attribute
    window: tuple[int, int] | None = None  # compare()'s selection time range, unix ns
    # Second stage, in order: ("topk", n), ("bottomk", n), or a comparison (">", value).
    after: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Spanset:
    """One spanset filter ``{ ... }`` inside a spanset expression."""

    filter: Expr


@dataclass(frozen=True)
class SpansetOp:
    """Two spanset expressions joined: ``&&`` / ``||`` (both in the trace / either), or a
    structural operator between their spans (``>`` child, ``>>`` descendant, ``<`` parent,
    ``<<`` ancestor, ``~`` sibling; ``&`` before one also keeps the left side's spans, ``!``
    keeps the right side's spans without that relation)."""

    op: str
    left: SpansetExpr
    right: SpansetExpr


SpansetExpr = Union[Spanset, SpansetOp]  # noqa: UP007
STRUCTURAL = {">", ">>", "<", "<<", "~", "&>", "&>>", "&<", "&<<", "&~", "!>", "!>>", "!<", "!<<", "!~"}


@dataclass(frozen=True)
class Aggregate:
    """A spanset aggregate compared with a number: ``count() > 2``, ``avg(duration) > 1s``
    (durations in seconds)."""

    function: str  # count avg sum min max
    field: Field | None
    op: str
    value: float


AGGREGATES = ("count", "avg", "sum", "min", "max")


@dataclass(frozen=True)
class Pipeline:
    filter: Expr  # the one spanset's filter (MatchAll when ``structure`` holds several)
    select: tuple[Field, ...] = ()
    metrics: Metrics | None = None
    structure: SpansetExpr | None = None  # more than one spanset, or parentheses around one
    having: tuple[Aggregate, ...] = ()  # search: tests of each trace's matching spans, all to hold


METRICS_FUNCTIONS = {
    "rate": 0,
    "count_over_time": 0,
    "sum_over_time": 1,
    "avg_over_time": 1,
    "min_over_time": 1,
    "max_over_time": 1,
    "quantile_over_time": 2,
    "histogram_over_time": 1,
    "compare": 3,
}
MAX_GROUP_BY = 5  # as Tempo: more labels per series than this is refused
MAX_COMPARE_TOP = 1000  # as Tempo

INTRINSICS = {
    "name": "name",
    "span:name": "name",
    "status": "status",
    "span:status": "status",
    "kind": "kind",
    "span:kind": "kind",
    "duration": "duration",
    "span:duration": "duration",
    "statusMessage": "statusMessage",
    "span:statusMessage": "statusMessage",
    "traceDuration": "traceDuration",
    "trace:duration": "traceDuration",
    "rootName": "rootName",
    "trace:rootName": "rootName",
    "rootServiceName": "rootServiceName",
    "trace:rootService": "rootServiceName",
    # Tempo's nested-set position of a span; ``nestedSetParent < 0`` is a root span.
    "nestedSetParent": "nestedSetParent",
    "nestedSetLeft": "nestedSetLeft",  # these two only in select(): search numbers the spans
    "nestedSetRight": "nestedSetRight",
    "trace:id": "traceId",
    "span:id": "spanId",
    "span:parentID": "parentId",
    "instrumentation:name": "instrumentationName",
    "instrumentation:version": "instrumentationVersion",
}
KEYWORDS = {"error", "ok", "unset", "server", "client", "producer", "consumer", "internal", "unspecified"}
DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|`[^`]*`)
    | (?P<duration>-?\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h)(?![\w.]))
    | (?P<number>-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<op>&&|\|\||&>>|&<<|&>|&<|&~|!>>|!<<|!>|!<|>>|<<|!=|>=|<=|=~|!~|=|>|<|~|\{|\}|\(|\)|\||,)
    | (?P<ident>[A-Za-z_.:][\w.:\-/]*(?:"(?:[^"\\]|\\.)*")?)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise TraceQLError(f"unexpected character at position {pos}: {text[pos : pos + 10]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return out


def _unquote(raw: str) -> str:
    if raw.startswith("`"):
        return raw[1:-1]
    body = raw[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise TraceQLError(f"unexpected end of query{f', expected {expected!r}' if expected else ''}")
        if expected is not None and token[1] != expected:
            raise TraceQLError(f"expected {expected!r} at position {token[2]}, found {token[1]!r}")
        self.i += 1
        return token

    def at(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token[1] == text and token[0] in ("op", "ident")

    def spanset(self) -> Expr:
        self.take("{")
        if self.at("}"):
            self.take("}")
            return MatchAll()
        expr = self.or_expr()
        self.take("}")
        return expr

    def query(self) -> Expr:
        pipeline = self.pipeline()
        if pipeline.metrics is not None:
            raise TraceQLError("a metrics query is answered by /api/metrics/query_range, not by search")
        if pipeline.structure is not None:
            raise TraceQLError("more than one spanset is not supported here")
        return pipeline.filter

    def spanset_expr(self, level: int = 0) -> SpansetExpr:
        """Spansets joined by ``||`` (level 0), ``&&`` (1) and structural operators (2), left to
        right, each binding tighter than the one before, as in Tempo's grammar."""
        if level == 3:
            if self.at("("):
                self.take("(")
                inner = self.spanset_expr()
                self.take(")")
                return inner
            return Spanset(self.spanset())
        ops = ({"||"}, {"&&"}, STRUCTURAL)[level]
        left = self.spanset_expr(level + 1)
        while (token := self.peek()) is not None and token[0] == "op" and token[1] in ops:
            self.take()
            left = SpansetOp(token[1], left, self.spanset_expr(level + 1))
        return left

    def pipeline(self) -> Pipeline:
        structure = self.spanset_expr()
        if isinstance(structure, Spanset):
            expr, structure_or_none = structure.filter, None
        else:
            expr, structure_or_none = MatchAll(), structure
        select: tuple[Field, ...] = ()
        metrics: Metrics | None = None
        having: tuple[Aggregate, ...] = ()
        while self.peek() is not None:
            token = self.peek()
            assert token is not None
            if metrics is not None and token[0] == "op" and token[1] in ("=", "!=", ">", ">=", "<", "<="):
                metrics = self.metrics_filter(metrics)
                continue
            if token[0] == "ident" and token[1] == "with":
                self.hints()
                continue
            if token[1] != "|":
                raise TraceQLError(f"unexpected {token[1]!r} at position {token[2]}")
            self.take("|")
            kind, name, pos = self.take()
            if kind != "ident":
                raise TraceQLError(f"expected a pipeline stage at position {pos}, found {name!r}")
            if name == "select" and metrics is None:
                select += self.fields()
            elif name in METRICS_FUNCTIONS and metrics is None:
                metrics = self.metrics(name, pos)
            elif name in ("topk", "bottomk") and metrics is not None:
                self.take("(")
                n = self.integer()
                self.take(")")
                metrics = replace(metrics, after=(*metrics.after, (name, float(n))))
            elif name in AGGREGATES and metrics is None:
                having += (self.aggregate(name),)
            else:
                raise TraceQLError(
                    f"unsupported pipeline stage {name!r} at position {pos}: use select(), count() or "
                    "avg/sum/min/max(field) with a comparison, or a metrics function (rate, count_over_time, "
                    "sum/avg/min/max_over_time, quantile_over_time, histogram_over_time, compare), then topk or bottomk"
                )
        if structure_or_none is not None and (metrics is not None or having):
            raise TraceQLError(
                "metrics and aggregates over more than one spanset are not supported: use one { ... } before the |"
            )
        if metrics is not None and having:
            raise TraceQLError("aggregates such as count() > 1 cannot come before a metrics function")
        return Pipeline(expr, select, metrics, structure_or_none, having)

    def aggregate(self, name: str) -> Aggregate:
        """``count() > 2``, ``avg(duration) > 1s``: a test of each trace's matching spans."""
        self.take("(")
        field = None if name == "count" else self.field()
        self.take(")")
        kind, op, pos = self.take()
        if kind != "op" or op not in ("=", "!=", ">", ">=", "<", "<="):
            raise TraceQLError(f"{name}() needs a comparison such as > 2, at position {pos}")
        return Aggregate(name, field, op, self.number())

    def fields(self) -> tuple[Field, ...]:
        self.take("(")
        out = [self.field()]
        while self.at(","):
            self.take(",")
            out.append(self.field())
        self.take(")")
        return tuple(out)

    def integer(self) -> int:
        kind, text, pos = self.take()
        if kind != "number" or not text.isdigit() or int(text) < 1:
            raise TraceQLError(f"expected a positive integer at position {pos}, found {text!r}")
        return int(text)

    def number(self) -> float:
        kind, text, pos = self.take()
        if kind == "duration":
            number, unit = re.match(r"(-?\d+(?:\.\d+)?)(\D+)", text).groups()  # type: ignore[union-attr]
            return float(number) * DURATION_UNITS[unit] / 1e9  # metrics give durations in seconds
        if kind != "number":
            raise TraceQLError(f"expected a number at position {pos}, found {text!r}")
        return float(text)

    def metrics(self, name: str, pos: int) -> Metrics:
        arity = METRICS_FUNCTIONS[name]
        self.take("(")
        field: Field | None = None
        quantiles: list[float] = []
        selection: Expr | None = None
        top, window = 10, None
        if arity == 3:  # compare({selection}, n, start, end)
            selection = self.spanset()
            args = []
            while self.at(","):
                self.take(",")
                kind, text, at = self.take()
                if kind != "number" or not text.isdigit():
                    raise TraceQLError(f"compare() takes whole numbers after its spanset, at position {at}")
                args.append(int(text))
            if len(args) not in (0, 1, 3) or (args and not 1 <= args[0] <= MAX_COMPARE_TOP):
                raise TraceQLError(
                    f"compare() takes a spanset, then a count of values (1 to {MAX_COMPARE_TOP}), then start and end"
                )
            if any(a >= 2**63 for a in args[1:]):
                raise TraceQLError("compare(): start and end are unix nanoseconds")
            if args:
                top = args[0]
            if len(args) == 3:
                if args[2] <= args[1]:
                    raise TraceQLError("compare(): the selection's end must be after its start")
                window = (args[1], args[2])
        elif arity >= 1:
            field = self.field()
            if arity == 2:
                while self.at(","):
                    self.take(",")
                    q = self.number()
                    if not 0 <= q <= 1:
                        raise TraceQLError(f"quantile must be between 0 and 1: {q}")
                    quantiles.append(q)
                if not quantiles:
                    raise TraceQLError("quantile_over_time needs a field and at least one quantile, such as 0.9")
        self.take(")")
        by: tuple[Field, ...] = ()
        if self.at("by"):
            self.take("by")
            by = self.fields()
            if name == "compare":
                raise TraceQLError("compare() does not take by()")
        if len(by) > MAX_GROUP_BY - (1 if name in ("histogram_over_time", "quantile_over_time") else 0):
            raise TraceQLError(f"too many fields in by(): at most {MAX_GROUP_BY}")
        return Metrics(name, field, tuple(quantiles), by, selection, top, window)

    def metrics_filter(self, metrics: Metrics) -> Metrics:
        op = self.take()[1]
        return replace(metrics, after=(*metrics.after, (op, self.number())))

    def hints(self) -> None:
        """``with(name = value, ...)``: query hints, which change nothing here."""
        self.take("with")
        self.take("(")
        depth = 1
        while depth:
            token = self.take()
            if token[1] == "(":
                depth += 1
            elif token[1] == ")":
                depth -= 1

    def or_expr(self) -> Expr:
        left = self.and_expr()
        while self.peek() is not None and self.peek()[1] == "||":  # type: ignore[index]
            self.take()
            left = Or(left, self.and_expr())
        return left

    def and_expr(self) -> Expr:
        left = self.primary()
        while self.peek() is not None and self.peek()[1] == "&&":  # type: ignore[index]
            self.take()
            left = And(left, self.primary())
        return left

    def primary(self) -> Expr:
        token = self.peek()
        if token is None:
            raise TraceQLError("unexpected end of query")
        if token[1] == "(":
            self.take()
            expr = self.or_expr()
            self.take(")")
            return expr
        if token[0] == "ident" and token[1] in ("true", "false"):
            self.take()
            return MatchAll() if token[1] == "true" else Compare(Intrinsic("name"), "=", Literal("nil", None))
        return self.compare()

    def field(self) -> Intrinsic | Attribute:
        kind, text, pos = self.take()
        if kind != "ident":
            raise TraceQLError(f"expected a field at position {pos}, found {text!r}")
        if text in INTRINSICS:
            return Intrinsic(INTRINSICS[text])
        for scope in ("resource.", "span.", "."):
            if text.startswith(scope) and len(text) > len(scope):
                name = text[len(scope) :]
                if name.startswith('"') and name.endswith('"'):
                    name = _unquote(name)
                return Attribute(scope.rstrip("."), name)
        raise TraceQLError(
            f"unknown field {text!r} at position {pos}: use an intrinsic or resource./span./. attributes"
        )

    def compare(self) -> Compare:
        field = self.field()
        kind, op, pos = self.take()
        if kind != "op" or op not in ("=", "!=", ">", ">=", "<", "<=", "=~", "!~"):
            raise TraceQLError(f"expected a comparison operator at position {pos}, found {op!r}")
        kind, text, pos = self.take()
        if kind == "string":
            value = Literal("string", _unquote(text))
        elif kind == "duration":
            number, unit = re.match(r"(-?\d+(?:\.\d+)?)(\D+)", text).groups()  # type: ignore[union-attr]
            value = Literal("duration", int(float(number) * DURATION_UNITS[unit]))
        elif kind == "number":
            value = Literal("float", float(text)) if any(c in text for c in ".eE") else Literal("int", int(text))
        elif kind == "ident" and text in ("true", "false"):
            value = Literal("bool", text == "true")
        elif kind == "ident" and text == "nil":
            value = Literal("nil", None)
        elif kind == "ident" and text in KEYWORDS:
            value = Literal("keyword", text)
        else:
            raise TraceQLError(f"expected a value at position {pos}, found {text!r}")
        if op in ("=~", "!~") and value.kind != "string":
            raise TraceQLError(f"{op} needs a string (a regular expression) at position {pos}")
        return Compare(field, op, value)


def parse(text: str) -> Expr:
    """Parse a TraceQL search query of the supported subset into its AST (its ``select`` dropped)."""
    if not text or not text.strip():
        return MatchAll()
    return _Parser(text.strip()).query()


def parse_pipeline(text: str) -> Pipeline:
    """Parse a TraceQL query with its pipeline: search's ``select`` or a metrics function."""
    if not text or not text.strip():
        return Pipeline(MatchAll())
    return _Parser(text.strip()).pipeline()

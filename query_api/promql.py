"""Evaluating a documented PromQL subset over Tracehouse's virtual metrics (storage.metrics) and the
OTLP metrics it received (query_api.otlp_series).

Parsing is promql-parser's (PyPI); this module walks its AST. Supported:
- number literals and parentheses, unary minus;
- selectors of the virtual metrics with ``= != =~ !~`` label matchers;
- ``rate``, ``increase``, ``sum_over_time`` and ``count_over_time`` of a range selector;
- ``histogram_quantile``;
- ``sum avg min max count`` with ``by``/``without``, and ``topk``/``bottomk``;
- ``+ - * /`` and comparisons between scalars and vectors, and between vectors with the same
  labels.

Anything else is ``PromQLError`` (the API answers ``bad_data``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import promql_parser as pp

from query_api.otlp_series import otlp_series
from storage import Store
from storage.metrics import METRICS, MetricsReader
from storage.otlp_metrics import OtlpMetricsReader

__all__ = ["PromQLError", "Scalar", "Series", "Vector", "evaluate"]

MAX_BUCKETS = 11_000
RANGE_FUNCTIONS = {"rate", "increase", "sum_over_time", "count_over_time"}


class PromQLError(ValueError):
    pass


@dataclass
class Series:
    labels: dict[str, str]
    values: list[float | None]


@dataclass
class Scalar:
    values: list[float]


@dataclass
class Vector:
    series: list[Series] = field(default_factory=list)


Value = Scalar | Vector


def _match(matcher: pp.Matcher, value: str) -> bool:
    op = matcher.op
    if op == pp.MatchOp.Equal:
        return value == matcher.value
    if op == pp.MatchOp.NotEqual:
        return value != matcher.value
    found = re.fullmatch(matcher.value, value) is not None
    return found if op == pp.MatchOp.Re else not found


def _without_name(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != "__name__"}


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


class _Evaluator:
    def __init__(
        self, reader: MetricsReader, otlp: OtlpMetricsReader, project: str, steps: list[int], step: int
    ) -> None:
        self.reader = reader
        self.otlp = otlp
        self.project = project
        self.steps = steps
        self.step = max(1, step)

    async def eval(self, node: object) -> Value:
        if isinstance(node, pp.NumberLiteral):
            return Scalar([float(node.val)] * len(self.steps))
        if isinstance(node, pp.ParenExpr):
            return await self.eval(node.expr)
        if isinstance(node, pp.UnaryExpr):
            return self._arith(Scalar([-1.0] * len(self.steps)), await self.eval(node.expr), "*")
        if isinstance(node, pp.VectorSelector):
            return await self._instant(node)
        if isinstance(node, pp.Call):
            return await self._call(node)
        if isinstance(node, pp.AggregateExpr):
            return await self._aggregate(node)
        if isinstance(node, pp.BinaryExpr):
            if node.modifier is not None and (node.modifier.matching is not None or node.modifier.return_bool):
                raise PromQLError("on(), ignoring() and bool modifiers are not supported")
            return self._arith(await self.eval(node.lhs), await self.eval(node.rhs), str(node.op))
        if isinstance(node, pp.MatrixSelector):
            raise PromQLError("a range selector needs a function such as rate() or increase()")
        raise PromQLError(f"unsupported expression: {type(node).__name__}")

    def _name(self, selector: pp.VectorSelector) -> tuple[str, list[pp.Matcher]]:
        matchers = list(selector.matchers.matchers)
        name = selector.name
        for m in list(matchers):
            if m.name == "__name__":
                name = m.value if m.op == pp.MatchOp.Equal else name
                matchers.remove(m)
        if selector.matchers.or_matchers or selector.offset is not None or selector.at is not None:
            raise PromQLError("or-matchers, offset and @ are not supported")
        if not name:
            raise PromQLError("a selector needs a metric name")
        return name, matchers

    async def _fetch(self, selector: pp.VectorSelector, start: int, end: int, bucket: int, with_base: bool):
        name, matchers = self._name(selector)
        if (end - start) / bucket > MAX_BUCKETS:
            raise PromQLError("too many points: use a larger step or a shorter range")
        if name in METRICS:
            labels, starts, values, bases = await self.reader.series(
                self.project, METRICS[name], start, end, bucket, with_base
            )
            firsts = [-1] * len(labels)  # Tracehouse's own counters count from zero, whenever asked
        else:
            found = await otlp_series(self.otlp, self.project, name, start, end, bucket, with_base)
            if found is None:
                raise PromQLError(
                    f"unknown metric {name!r}: neither a Tracehouse metric ({', '.join(sorted(METRICS))}) "
                    "nor one received over OTLP in this project"
                )
            labels, starts, values, bases, firsts = found
        keep = []
        for i, label_set in enumerate(labels):
            full = {"__name__": name, "project": self.project, **label_set}
            if all(_match(m, full.get(m.name, "")) for m in matchers):
                keep.append((full, values[i], bases[i], firsts[i]))
        return starts, keep

    async def _instant(self, selector: pp.VectorSelector) -> Vector:
        """A counter's running total at each step."""
        start = self.steps[0]
        end = self.steps[-1] + 1
        starts, found = await self._fetch(selector, start, end, self.step, True)
        out = Vector()
        for labels, values, base, first in found:
            total, b = base, 0
            row: list[float | None] = []
            for t in self.steps:
                while b < len(starts) and starts[b] < t:
                    total += values[b]
                    b += 1
                row.append(total if first < b else None)  # no value before its first point
            out.series.append(Series(labels, row))
        return out

    async def _window(self, matrix: pp.MatrixSelector, fn: str) -> Vector:
        window = int(matrix.range.total_seconds())
        if window <= 0:
            raise PromQLError("the range must be at least one second")
        bucket = math.gcd(window, self.step)
        start = self.steps[0] - window
        end = self.steps[-1]
        _, found = await self._fetch(matrix.vector_selector, start, end, bucket, False)
        per_window = window // bucket
        out = Vector()
        for labels, values, _, _ in found:
            prefix = [0.0]
            for v in values:
                prefix.append(prefix[-1] + v)
            row: list[float | None] = []
            for t in self.steps:
                hi = min(len(values), (t - start) // bucket)
                lo = max(0, hi - per_window)
                amount = prefix[hi] - prefix[lo]
                row.append(amount / window if fn == "rate" else amount)
            out.series.append(Series(_without_name(labels), row))
        return out

    async def _call(self, node: pp.Call) -> Value:
        name = node.func.name
        if name in RANGE_FUNCTIONS:
            if len(node.args) != 1 or not isinstance(node.args[0], pp.MatrixSelector):
                raise PromQLError(f"{name}() takes one range selector, e.g. {name}(metric[5m])")
            return await self._window(node.args[0], name)
        if name == "histogram_quantile":
            phi = await self.eval(node.args[0])
            vector = await self.eval(node.args[1])
            if not isinstance(phi, Scalar) or not isinstance(vector, Vector):
                raise PromQLError("histogram_quantile(φ, buckets) takes a number and a vector")
            return self._quantile(phi.values[0], vector)
        raise PromQLError(f"unsupported function {name}()")

    def _quantile(self, phi: float, vector: Vector) -> Vector:
        groups: dict[tuple, list[tuple[float, Series]]] = {}
        for s in vector.series:
            if "le" not in s.labels:
                continue
            bound = math.inf if s.labels["le"] == "+Inf" else float(s.labels["le"])
            rest = {k: v for k, v in s.labels.items() if k not in ("le", "__name__")}
            groups.setdefault(_key(rest), []).append((bound, s))
        out = Vector()
        for key, buckets in groups.items():
            buckets.sort(key=lambda b: b[0])
            row: list[float | None] = []
            for i in range(len(self.steps)):
                counts = [(bound, s.values[i] or 0.0) for bound, s in buckets]
                row.append(_bucket_quantile(phi, counts))
            out.series.append(Series(dict(key), row))
        return out

    async def _aggregate(self, node: pp.AggregateExpr) -> Vector:
        op = str(node.op)
        inner = await self.eval(node.expr)
        if not isinstance(inner, Vector):
            raise PromQLError(f"{op}() needs a vector")
        if op in ("topk", "bottomk"):
            k_value = await self.eval(node.param)
            if not isinstance(k_value, Scalar):
                raise PromQLError(f"{op}() needs a number first")
            k = k_value.values[0]
            if k is None or math.isnan(k):
                raise PromQLError(f"{op}() needs a number first, not NaN")
            count = len(inner.series) if k > len(inner.series) else 0 if k < 0 else int(k)  # ±Inf too
            return self._topk(count, inner, op == "topk")
        if op not in ("sum", "avg", "min", "max", "count"):
            raise PromQLError(f"unsupported aggregation {op}")
        modifier = node.modifier
        groups: dict[tuple, list[Series]] = {}
        for s in inner.series:
            labels = _without_name(s.labels)
            if modifier is not None and modifier.type == pp.AggModifierType.By:
                labels = {k: v for k, v in labels.items() if k in modifier.labels}
            elif modifier is not None:
                labels = {k: v for k, v in labels.items() if k not in modifier.labels}
            else:
                labels = {}
            groups.setdefault(_key(labels), []).append(s)
        out = Vector()
        for key, members in groups.items():
            row: list[float | None] = []
            for i in range(len(self.steps)):
                values = [m.values[i] for m in members if m.values[i] is not None]
                row.append(_combine(op, values))  # type: ignore[arg-type]
            out.series.append(Series(dict(key), row))
        return out

    def _topk(self, k: int, vector: Vector, top: bool) -> Vector:
        rows: list[list[float | None]] = [[None] * len(self.steps) for _ in vector.series]
        for i in range(len(self.steps)):
            ranked = sorted(
                (j for j, s in enumerate(vector.series) if s.values[i] is not None),
                key=lambda j: vector.series[j].values[i],  # type: ignore[arg-type, return-value]
                reverse=top,
            )[: max(0, k)]
            for j in ranked:
                rows[j][i] = vector.series[j].values[i]
        return Vector(
            [Series(s.labels, rows[j]) for j, s in enumerate(vector.series) if any(v is not None for v in rows[j])]
        )

    def _arith(self, left: Value, right: Value, op: str) -> Value:
        if op not in ("+", "-", "*", "/", ">", "<", ">=", "<=", "==", "!="):
            raise PromQLError(f"unsupported operator {op}")
        if isinstance(left, Scalar) and isinstance(right, Scalar):
            if op in ("+", "-", "*", "/"):
                return Scalar([_apply(op, a, b) or 0.0 for a, b in zip(left.values, right.values, strict=True)])
            raise PromQLError("comparisons between scalars need bool, which is not supported")
        if isinstance(left, Vector) and isinstance(right, Vector):
            by_key = {_key(_without_name(s.labels)): s for s in right.series}
            out = Vector()
            for s in left.series:
                other = by_key.get(_key(_without_name(s.labels)))
                if other is not None:
                    out.series.append(Series(_without_name(s.labels), _pairwise(op, s.values, other.values)))
            return out
        vector, scalar, swapped = (left, right, False) if isinstance(left, Vector) else (right, left, True)
        assert isinstance(vector, Vector) and isinstance(scalar, Scalar)
        out = Vector()
        for s in vector.series:
            if swapped:
                values = _pairwise(op, scalar.values, s.values, keep_right=True)
            else:
                values = _pairwise(op, s.values, scalar.values)
            labels = s.labels if op in (">", "<", ">=", "<=", "==", "!=") else _without_name(s.labels)
            out.series.append(Series(labels, values))
        return out


def _apply(op: str, a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b if b else (math.nan if a == 0 else math.copysign(math.inf, a))
    keep = {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b, "==": a == b, "!=": a != b}[op]
    return a if keep else None


def _pairwise(op: str, left: list, right: list, keep_right: bool = False) -> list[float | None]:
    out = []
    for a, b in zip(left, right, strict=True):
        value = _apply(op, a, b)
        if value is not None and keep_right and op in (">", "<", ">=", "<=", "==", "!="):
            value = b
        out.append(value)
    return out


def _combine(op: str, values: list[float]) -> float | None:
    if not values:
        return None
    if op == "sum":
        return sum(values)
    if op == "avg":
        return sum(values) / len(values)
    if op == "min":
        return min(values)
    if op == "max":
        return max(values)
    return float(len(values))


def _bucket_quantile(phi: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile over cumulative (upper bound, count) pairs, +Inf last."""
    if not buckets or buckets[-1][0] != math.inf:
        return None
    total = buckets[-1][1]
    if total <= 0:
        return None
    if phi < 0:
        return -math.inf
    if phi > 1:
        return math.inf
    rank = phi * total
    previous_bound, previous_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == math.inf:
                return previous_bound
            if count == previous_count:
                return bound
            return previous_bound + (bound - previous_bound) * (rank - previous_count) / (count - previous_count)
        previous_bound, previous_count = bound, count
    return previous_bound


async def evaluate(store: Store, project: str, query: str, steps: list[int], step: int) -> Value:
    """Parse ``query`` and evaluate it at each of ``steps`` (epoch seconds)."""
    try:
        node = pp.parse(query)
    except Exception as exc:  # noqa: BLE001 - the parser raises plain exceptions with good messages
        raise PromQLError(f"parse error: {exc}") from None
    if isinstance(node, pp.StringLiteral):
        raise PromQLError("string results are not supported")
    return await _Evaluator(store.metrics, store.otlp_metrics, project, steps, step).eval(node)

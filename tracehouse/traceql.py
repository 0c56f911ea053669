"""A TraceQL subset: parser and AST (no SQL here; storage compiles the AST).

Supported: one spanset ``{ ... }`` with ``&&``, ``||`` and parentheses; conditions
``<field> <op> <value>`` where the field is an intrinsic (name, status, kind, duration,
statusMessage, traceDuration, rootName, rootServiceName, and the ``span:``/``trace:`` forms)
or an attribute (``resource.x``, ``span.x``, unscoped ``.x``); operators
``= != > >= < <= =~ !~``; values that are strings, numbers, durations (``ns us µs ms s m h``),
``true``/``false``, keywords (``error ok unset``, span kinds) and ``nil``; ``{}`` and
``{ true }`` match every span. Anything else is a ``TraceQLError`` naming the position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

__all__ = ["And", "Attribute", "Compare", "Intrinsic", "Literal", "MatchAll", "Or", "TraceQLError", "parse"]


class TraceQLError(ValueError):
    """The query is outside the supported subset or malformed."""


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
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    | (?P<op>&&|\|\||!=|>=|<=|=~|!~|=|>|<|\{|\}|\(|\)|\|)
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

    def query(self) -> Expr:
        self.take("{")
        if self.peek() is not None and self.peek()[1] == "}":  # type: ignore[index]
            self.take("}")
            expr: Expr = MatchAll()
        else:
            expr = self.or_expr()
            self.take("}")
        if self.peek() is not None:
            token = self.peek()
            assert token is not None
            raise TraceQLError(f"only one spanset is supported; unexpected {token[1]!r} at position {token[2]}")
        return expr

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
    """Parse a TraceQL query of the supported subset into its AST."""
    if not text or not text.strip():
        return MatchAll()
    return _Parser(text.strip()).query()

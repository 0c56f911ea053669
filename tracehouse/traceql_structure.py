"""TraceQL's spanset operators, evaluated on one trace's span tree (no SQL here).

Storage reads, for each candidate trace, its spans with one flag per spanset filter of the
query (``leaves``); ``matches`` then applies ``&&``, ``||`` and the structural operators to
those sets, as Tempo defines them: ``{A} > {B}`` is the spans of B whose parent is in A, ``>>``
whose ancestor is, ``<`` whose child is, ``<<`` whose descendant is, ``~`` whose sibling is;
``&`` before an operator also keeps the spans of A that take part, ``!`` keeps the spans of B
without the relation. ``{A} && {B}`` needs both in the trace and keeps both; ``||`` either.
``nested_set`` numbers a trace's spans as Tempo's ``nestedSetLeft``, ``nestedSetRight`` and
``nestedSetParent`` do (a depth-first walk, children by start time; a root's parent is -1).
"""

from __future__ import annotations

from dataclasses import dataclass

from tracehouse.traceql import Spanset, SpansetExpr, SpansetOp

__all__ = ["TraceSpan", "leaves", "matches", "nested_set"]

MAX_DEPTH = 10_000  # a parent chain longer than this is a cycle in bad data, not a trace


@dataclass(frozen=True)
class TraceSpan:
    span_id: str
    parent_id: str  # "" for a root
    start: int
    flags: tuple[bool, ...]  # whether it matches each of ``leaves(expr)``, in order


def leaves(expr: SpansetExpr) -> list[Spanset]:
    """The spanset filters of ``expr``, left to right (the order of ``TraceSpan.flags``)."""
    if isinstance(expr, Spanset):
        return [expr]
    return leaves(expr.left) + leaves(expr.right)


class _Tree:
    def __init__(self, spans: list[TraceSpan]) -> None:
        self.spans = {s.span_id: s for s in spans}
        self.children: dict[str, list[str]] = {}
        for s in spans:
            if s.parent_id and s.parent_id in self.spans:
                self.children.setdefault(s.parent_id, []).append(s.span_id)

    def parent(self, span_id: str) -> str:
        parent = self.spans[span_id].parent_id
        return parent if parent in self.spans else ""

    def ancestors(self, span_id: str) -> set[str]:
        out: set[str] = set()
        current = self.parent(span_id)
        while current and current not in out and len(out) < MAX_DEPTH:
            out.add(current)
            current = self.parent(current)
        return out

    def descendants(self, span_id: str) -> set[str]:
        out: set[str] = set()
        todo = list(self.children.get(span_id, []))
        while todo and len(out) < len(self.spans):
            child = todo.pop()
            if child not in out:
                out.add(child)
                todo.extend(self.children.get(child, []))
        return out


def _related(tree: _Tree, relation: str, a: set[str], b: str) -> set[str]:
    """The spans of ``a`` that ``b`` stands in ``relation`` to (b's parent, ancestors, ...)."""
    if relation == ">":
        parent = tree.parent(b)
        return {parent} & a if parent else set()
    if relation == ">>":
        return tree.ancestors(b) & a
    if relation == "<":
        return set(tree.children.get(b, [])) & a
    if relation == "<<":
        return tree.descendants(b) & a
    parent = tree.parent(b)  # "~": the same parent, another span
    return {s for s in tree.children.get(parent, []) if s != b} & a if parent else set()


def _evaluate(expr: SpansetExpr, tree: _Tree, index: dict[int, int]) -> set[str]:
    if isinstance(expr, Spanset):
        i = index[id(expr)]
        return {s.span_id for s in tree.spans.values() if s.flags[i]}
    assert isinstance(expr, SpansetOp)
    left, right = _evaluate(expr.left, tree, index), _evaluate(expr.right, tree, index)
    if expr.op == "&&":
        return left | right if left and right else set()
    if expr.op == "||":
        return left | right
    relation = expr.op.lstrip("&!")
    out: set[str] = set()
    for b in right:
        partners = _related(tree, relation, left, b)
        if expr.op.startswith("!"):
            if not partners:
                out.add(b)
        elif partners:
            out.add(b)
            if expr.op.startswith("&"):
                out |= partners
    return out


def matches(expr: SpansetExpr, spans: list[TraceSpan]) -> set[str]:
    """The ids of the spans of one trace that ``expr`` selects (empty: the trace does not match)."""
    index = {id(leaf): i for i, leaf in enumerate(leaves(expr))}
    return _evaluate(expr, _Tree(spans), index)


def nested_set(spans: list[TraceSpan]) -> dict[str, tuple[int, int, int]]:
    """span id -> (nestedSetLeft, nestedSetRight, nestedSetParent), numbered from 1."""
    tree = _Tree(spans)
    order = sorted(tree.spans.values(), key=lambda s: (s.start, s.span_id))
    out: dict[str, tuple[int, int, int]] = {}
    counter = 1
    for root in (s for s in order if not tree.parent(s.span_id)):
        stack: list[tuple[str, int, bool]] = [(root.span_id, -1, False)]
        lefts: dict[str, int] = {}
        while stack:
            span_id, parent_left, done = stack.pop()
            if done:
                out[span_id] = (lefts[span_id], counter, parent_left)
                counter += 1
                continue
            if span_id in lefts:  # a cycle: seen on this walk already
                continue
            lefts[span_id] = counter
            counter += 1
            stack.append((span_id, parent_left, True))
            kids = sorted(tree.children.get(span_id, []), key=lambda c: (tree.spans[c].start, c), reverse=True)
            stack.extend((child, lefts[span_id], False) for child in kids)
    return out

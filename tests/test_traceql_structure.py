"""TraceQL's spanset operators on one trace's tree, and Tempo's nested-set numbering."""

from __future__ import annotations

import pytest

from tracehouse.traceql import TraceQLError, parse_pipeline
from tracehouse.traceql_structure import TraceSpan, leaves, matches, nested_set

# root ─┬─ llm (t=2) ── tool (t=3) ── db (t=4)
#       └─ llm2 (t=5)
# plus an orphan whose parent is not in the trace (t=6)
TREE = {
    "root": ("", 1),
    "llm": ("root", 2),
    "tool": ("llm", 3),
    "db": ("tool", 4),
    "llm2": ("root", 5),
    "orphan": ("gone", 6),
}
KIND = {"root": "server", "llm": "client", "tool": "internal", "db": "client", "llm2": "client", "orphan": "client"}


def run(query: str) -> set[str]:
    """Evaluate a query whose spansets test ``name`` or ``kind`` against TREE."""
    structure = parse_pipeline(query).structure
    assert structure is not None, query
    spans = []
    for span_id, (parent, start) in TREE.items():
        flags = []
        for leaf in leaves(structure):
            text = repr(leaf.filter)
            flags.append(
                "MatchAll" in text
                or f"value='{span_id}'" in text
                or (f"value='{KIND[span_id]}'" in text and "Intrinsic(name='kind')" in text)
            )
        spans.append(TraceSpan(span_id, parent, start, tuple(flags)))
    return matches(structure, spans)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('{ name = "root" } > { kind = client }', {"llm", "llm2"}),  # children only
        ('{ name = "root" } >> { kind = client }', {"llm", "llm2", "db"}),  # any depth
        ('{ name = "root" } &>> { kind = client }', {"root", "llm", "llm2", "db"}),  # and the ancestor
        ('{ name = "db" } < { }', {"tool"}),  # the parent
        ('{ name = "db" } << { }', {"tool", "llm", "root"}),  # every ancestor
        ('{ name = "db" } &<< { kind = server }', {"db", "root"}),
        ('{ name = "llm" } ~ { }', {"llm2"}),  # a sibling, not itself
        ('{ name = "llm" } &~ { }', {"llm", "llm2"}),
        ('{ name = "root" } !> { kind = client }', {"db", "orphan"}),  # clients not under root directly
        ("{ } !< { }", {"db", "llm2", "orphan"}),  # spans without children
        ('{ name = "orphan" } ~ { }', set()),  # its parent is missing: no siblings
        ('{ name = "db" } && { name = "llm2" }', {"db", "llm2"}),  # both present: both kept
        ('{ name = "db" } && { name = "nope" }', set()),
        ('{ name = "db" } || { name = "nope" }', {"db"}),
        ('({ name = "root" } > { name = "llm" }) > { name = "tool" }', {"tool"}),
        ('{ name = "root" } > { name = "llm" } && { name = "db" }', {"llm", "db"}),  # > binds tighter
        ('{ name = "tool" } > { name = "llm" } || { name = "llm2" }', {"llm2"}),
    ],
)
def test_operators(query: str, expected: set[str]) -> None:
    assert run(query) == expected


def test_nested_set_numbers_like_tempo() -> None:
    spans = [TraceSpan(k, parent, start, ()) for k, (parent, start) in TREE.items()]
    numbers = nested_set(spans)
    # depth first, children by start: root [1, 10], llm [2, 7], tool [3, 6], db [4, 5], llm2 [8, 9]
    assert numbers["root"] == (1, 10, -1)
    assert numbers["llm"] == (2, 7, 1) and numbers["tool"] == (3, 6, 2) and numbers["db"] == (4, 5, 3)
    assert numbers["llm2"] == (8, 9, 1)
    assert numbers["orphan"] == (11, 12, -1)  # an orphan is numbered as a root of its own
    # a cycle in bad data ends (whatever it matches), and its spans are not numbered
    cycle = [TraceSpan("a", "b", 1, (True, True)), TraceSpan("b", "a", 2, (True, True))]
    assert nested_set(cycle) == {} and matches(parse_pipeline("{ } >> { }").structure, cycle) <= {"a", "b"}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "query",
    ["{ } >>", "{ } > > { }", "({ } >> { }", "{ } >> { } | rate()", "{ nestedSetLeft > 1 } >> { }"],
)
def test_bad_structures(query: str) -> None:
    with pytest.raises(TraceQLError):
        pipeline = parse_pipeline(query)
        from storage.traceql_sql import compile_condition

        for leaf in leaves(pipeline.structure):  # type: ignore[arg-type]
            compile_condition(leaf.filter)

"""One model call recorded twice, counted once.

A wrapper's generation often holds the provider's own record of the same call: Langfuse's
LangChain handler around the anthropic SDK's span (which it emits wherever a global tracer
provider is set), OpenInference's or OpenLLMetry's LangChain span around their OpenAI or Anthropic
instrumentation's, DSPy's around LiteLLM's. Both report the call's usage, so a trace's tokens and
cost would be twice what was spent. The innermost record is the provider's answer as it came
(cache reads and writes included, where a wrapper's may not have them, and one record per retry);
a generation that holds another of the same model with usage is taken as its wrapper: its usage
and cost stay in its attributes, and it names the calls they are counted on (``COUNTED_IN``). A
wrapper that does not make its generation the current span puts the two records side by side
instead (``_sibling_records``). A call streamed without usage has its tokens counted here from
its messages, on each record: an estimate never stands for a record that reported the call's
usage (the report is counted), and of estimates alone the innermost is counted. The span writer
applies the rule to each insert (``count_with_stored``), with the stored spans of its traces: an
exporter that sends each span as it ends sends the inner record, which ends first, in a request
before its wrapper's. A record stored already is not changed: where a wrapper came before its
call (rare: the call ends first), or an estimate before its wrapper's report, the one stored
stays counted and the one that came after it is not. The Langfuse ingestion lane applies the
rule to each flush the same way (otlp_receiver.langfuse.service).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from otlp_receiver.genai_facts import TOKEN_COLUMNS
from storage import ESTIMATED_ATTRIBUTE

__all__ = ["COUNTED_IN", "count_calls_once", "count_with_stored", "uncount"]

# The attribute of a record not counted: the ids of the spans its call is counted on, comma-separated.
COUNTED_IN = "tracehouse.usage.counted_in"

_ZERO = Decimal(0)
# A chain of parents longer than this is not followed (a malformed request may even loop).
_MAX_DEPTH = 64


def _has_usage(c: dict[str, list[Any]], i: int) -> bool:
    return bool(c["input_tokens"][i] or c["output_tokens"][i] or c["total_cost"][i])


def _model_key(model: str) -> str:
    # "openai/gpt-4o-mini" (LiteLLM's, DSPy's) and "gpt-4o-mini" name one model.
    return model.lower().rsplit("/", 1)[-1]


def _same_model(a: str, b: str) -> bool:
    """Whether two records' models may be one call's: a request's name and the dated version its
    answer names (``gpt-4o`` and ``gpt-4o-2024-08-06``), or one record without a model."""
    a, b = _model_key(a), _model_key(b)
    return not a or not b or a in b or b in a


def _same_request(c: dict[str, list[Any]], i: int, j: int) -> bool:
    """Whether two records count one prompt to one model. Their output counts may differ: a
    streamed answer's is counted by some instrumentations (OpenLLMetry's Anthropic: one more)."""
    return bool(
        c["input_tokens"][i]
        and c["input_tokens"][i] == c["input_tokens"][j]
        and c["cache_read_tokens"][i] == c["cache_read_tokens"][j]
        and _same_model(c["model"][i], c["model"][j])
    )


def _together(c: dict[str, list[Any]], i: int, j: int) -> bool:
    """Whether spans ``i`` and ``j`` ran at the same time (neither ended before the other began).
    Two records of one streamed call need not nest: each ends as its reader finishes the stream."""
    return bool(c["start_time"][i] <= c["end_time"][j] and c["start_time"][j] <= c["end_time"][i])


def _outer_first(c: dict[str, list[Any]], i: int, j: int) -> tuple[int, int]:
    """Two records of one call, the outer first: the one that started first, or ended last."""
    if (c["start_time"][i], -c["end_time"][i]) <= (c["start_time"][j], -c["end_time"][j]):
        return i, j
    return j, i


def _sibling_records(c: dict[str, list[Any]], calls: list[int], estimated: set[int]) -> dict[int, int]:
    """Records of one call side by side: a wrapper that does not make its generation the current
    span (Langfuse's drop-in OpenAI client) and an instrumentation of the same SDK method record
    it under one parent. Two generations under one parent are one call's when they count the same
    prompt to one model, ran at the same time, and come from different instrumentations (parallel
    calls come from one) or, from one (Langfuse's ingestion API has no scopes), one reported its
    usage and the other did not (a wrapper that could not read the answer: Langfuse's 2.x drop-in
    client under LangChain, which reads the raw response). Of the two, the one not counted is the
    one whose tokens were counted here where the other's were reported, else the outer. Returns
    each such row and the row it repeats."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i in calls:
        groups.setdefault((c["trace_id"][i], c["parent_span_id"][i]), []).append(i)
    repeats: dict[int, int] = {}
    for group in groups.values():
        for x, i in enumerate(group):
            for j in group[x + 1 :]:
                if i in repeats or j in repeats:
                    continue
                if c["scope_name"][i] == c["scope_name"][j] and (i in estimated) == (j in estimated):
                    continue
                if not _same_request(c, i, j) or not _together(c, i, j):
                    continue
                if (i in estimated) != (j in estimated):
                    repeats.update({i: j} if i in estimated else {j: i})
                else:
                    outer, inner = _outer_first(c, i, j)
                    repeats[outer] = inner
    return repeats


def _nearest_generation(
    rows: dict[tuple[str, str], int], types: list[str], trace: str, parents: list[str], i: int
) -> int | None:
    """The row of the generation nearest above row ``i``, where its chain of parents among the
    rows (the insert's and the stored spans of its traces) ends (at a root or a parent not among
    them); none where it loops or runs past ``_MAX_DEPTH``, which only malformed spans do."""
    nearest, seen, parent = None, {i}, parents[i]
    for _ in range(_MAX_DEPTH):
        j = rows.get((trace, parent))
        if j is None:
            return nearest
        if j in seen:
            return None
        seen.add(j)
        if nearest is None and types[j] == "GENERATION":
            nearest = j
        parent = parents[j]
    return None


def _wrappers_of(c: dict[str, list[Any]], used: list[int], beside: dict[int, int]) -> dict[int, int]:
    """Each record's wrapper among ``used`` (the generations with usage, less the records
    ``beside`` another that are not counted): the nearest generation above it, where that one
    has usage of the same model."""
    trace_ids, span_ids, parents, types = c["trace_id"], c["span_id"], c["parent_span_id"], c["observation_type"]
    rows = {(trace_ids[i], span_ids[i]): i for i in range(len(types))}
    candidates = set(used) - set(beside)
    wrapper_of: dict[int, int] = {}
    for i in used:
        if i in beside:
            continue
        above = _nearest_generation(rows, types, trace_ids[i], parents, i)
        if above is not None and above in candidates and _same_model(c["model"][i], c["model"][above]):
            wrapper_of[i] = above
    return wrapper_of


def count_calls_once(c: dict[str, list[Any]], estimated: set[int]) -> dict[int, list[int]]:
    """The records not counted among the rows ``c`` (column lists, one entry per span), each with
    the rows its call is counted on. ``estimated``: the rows whose tokens were counted here rather
    than reported. Records of one call nested in each other make a tree (a wrapper, the records
    within it, one per retry); the ones counted are the innermost reported ones, or where a
    wrapper holds only records with estimated tokens, the wrapper's report: an estimate never
    stands for a reported figure, and of estimates alone the innermost is counted."""
    types = c["observation_type"]
    used = [i for i, kind in enumerate(types) if kind == "GENERATION" and _has_usage(c, i)]
    if len(used) < 2:
        return {}
    beside = _sibling_records(c, used, estimated)
    not_counted: dict[int, list[int]] = {j: [i] for j, i in beside.items()}
    wrapper_of = _wrappers_of(c, used, beside)
    held: dict[int, list[int]] = {}
    for i, j in wrapper_of.items():
        held.setdefault(j, []).append(i)
    # Each wrapper's choice, deepest first so that the records within it have made theirs: the
    # records its tree counts (its own row, or the ones its records within count).
    counted: dict[int, list[int]] = {}
    order = list(held)
    if any(j in wrapper_of for j in order):  # wrappers within wrappers: the order matters
        depth = {j: _depth(wrapper_of, j) for j in order}
        order.sort(key=depth.__getitem__, reverse=True)
    reports = []  # wrappers whose report stands for the estimates within them
    for j in order:
        within = [k for i in held[j] for k in counted.get(i, (i,))]
        if estimated and j not in estimated and all(k in estimated for k in within):
            counted[j] = [j]
            reports.append(j)
        else:
            counted[j] = not_counted[j] = within
    for j in reports:  # never one within another: a report around a report counts the inner
        for i in _below(held, j):
            not_counted[i] = [j]
    return not_counted


def _depth(wrapper_of: dict[int, int], i: int) -> int:
    """How many wrappers are above row ``i`` (the chain has no loop: its links follow parents)."""
    n = 0
    while i in wrapper_of and n <= len(wrapper_of):
        i, n = wrapper_of[i], n + 1
    return n


def _below(held: dict[int, list[int]], j: int) -> list[int]:
    """Every record within wrapper ``j``, at any depth."""
    found, todo = [], list(held[j])
    while todo:
        i = todo.pop()
        found.append(i)
        todo.extend(held.get(i, []))
    return found


_FACTS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "observation_type",
    "model",
    "scope_name",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "total_cost",
)


def _estimated_calls(batch: pa.Table, calls: pa.ChunkedArray) -> pa.ChunkedArray:
    """Which of ``batch``'s rows are generations with usage (``calls``) whose tokens were counted
    here: looked up in the attributes of those rows alone, the only ones the rule asks about."""
    counted = pc.map_lookup(batch.column("span_attributes").filter(calls), ESTIMATED_ATTRIBUTE, "first")
    mask = calls.combine_chunks()
    return pa.chunked_array([pc.replace_with_mask(mask, mask, pc.is_valid(counted).combine_chunks())])


def _candidate_traces(batch: pa.Table, calls: pa.ChunkedArray, guessed: pa.ChunkedArray) -> set[str]:
    """The traces of ``batch`` where two records of one call may be: a generation with usage
    that holds other spans (a wrapper, whose call may be further down), or generations with usage
    under one parent from two instrumentations, or with tokens counted here (``guessed``). Most
    batches have none (a model call's span holds nothing), and are not looked at further."""
    parents = batch.column("parent_span_id")
    holders = pc.and_(calls, pc.is_in(batch.column("span_id"), value_set=pc.unique(parents)))
    traces = set(batch.column("trace_id").filter(holders).to_pylist())
    found = batch.select(["trace_id", "parent_span_id", "scope_name"]).append_column("guessed", guessed).filter(calls)
    groups = found.group_by(["trace_id", "parent_span_id"]).aggregate(
        [("scope_name", "count_distinct"), ("scope_name", "count"), ("guessed", "any")]
    )
    beside = pc.or_(
        pc.greater(groups.column("scope_name_count_distinct"), 1),
        pc.and_(groups.column("guessed_any"), pc.greater(groups.column("scope_name_count"), 1)),
    )
    traces.update(groups.column("trace_id").filter(beside).to_pylist())
    return traces


def count_with_stored(
    batch: pa.Table, stored: list[dict[str, Any]], uncounted: dict[tuple[str, str], list[str]] | None = None
) -> pa.Table:
    """``batch`` (rows of spans about to be stored, from one or more requests) as it is to be
    stored: of two records of one call that it holds, or that it and ``stored`` hold (rows of its
    traces already stored: the span writer's look-up, storage.writer), the one that is not counted
    has no usage or cost in its columns and names the other. A stored row that the batch holds a
    new version of (a Langfuse update) is compared as the batch has it.

    Only the batch's rows change: where the rule would not count a stored row (it was counted
    when it came), the batch's records it would be counted on are the ones not counted, and name
    it. Given ``uncounted`` (a store that writes new versions of stored rows: the Langfuse lane),
    the rule has its way whatever came first: such a stored row is put there instead, keyed by
    (trace id, span id), with the records it is counted on, for the caller to write it again
    with ``uncount``."""
    if stored:
        mine = set(zip(batch.column("trace_id").to_pylist(), batch.column("span_id").to_pylist(), strict=True))
        stored = [row for row in stored if (row["trace_id"], row["span_id"]) not in mine]
    used = pc.or_(
        pc.or_(pc.greater(batch.column("input_tokens"), 0), pc.greater(batch.column("output_tokens"), 0)),
        pc.greater(batch.column("total_cost"), pa.scalar(_ZERO, batch.schema.field("total_cost").type)),
    )
    calls = pc.and_(pc.equal(batch.column("observation_type"), "GENERATION"), used)
    guessed = _estimated_calls(batch, calls)
    traces = _candidate_traces(batch, calls, guessed) | {row["trace_id"] for row in stored}
    if not traces:
        return batch
    chosen = pc.is_in(batch.column("trace_id"), value_set=pa.array(sorted(traces), pa.string()))
    rest, batch = batch.filter(pc.invert(chosen)), batch.filter(chosen)
    estimated = set(pc.indices_nonzero(guessed.filter(chosen)).to_pylist())
    n = batch.num_rows
    c: dict[str, list[Any]] = {name: batch.column(name).to_pylist() for name in _FACTS}
    for name in ("start_time", "end_time"):
        c[name] = batch.column(name).cast(pa.int64()).to_pylist()
    for name in _FACTS:
        c[name].extend(row[name] for row in stored)
    c["start_time"].extend(row["start_ns"] for row in stored)
    c["end_time"].extend(row["end_ns"] for row in stored)
    estimated.update(n + k for k, row in enumerate(stored) if row["estimated"])
    # The batch's rows not to count, and the records they are counted on.
    wrappers: dict[int, list[str]] = {}
    for j, counted_on in count_calls_once(c, estimated).items():
        if j < n:
            wrappers[j] = [c["span_id"][i] for i in counted_on]
        elif uncounted is not None:
            uncounted[(c["trace_id"][j], c["span_id"][j])] = [c["span_id"][i] for i in counted_on]
        else:
            for i in counted_on:
                if i < n:
                    wrappers.setdefault(i, []).append(c["span_id"][j])
    if not wrappers:
        return pa.concat_tables([rest, batch])
    rows = sorted(wrappers)
    changed = uncount(batch.take(pa.array(rows, pa.int64())), [wrappers[j] for j in rows])
    keep = pa.array([i not in wrappers for i in range(n)])
    return pa.concat_tables([rest, batch.filter(keep), changed])


def uncount(rows: pa.Table, counted_on: list[list[str]]) -> pa.Table:
    """``rows`` (records of calls, in the spans' schema) not counted: no usage or cost in their
    columns, and each naming the records it is counted on (``counted_on``, by row)."""
    columns = []
    for field in rows.schema:
        column = rows.column(field.name)
        if field.name in TOKEN_COLUMNS:
            column = pa.array([0] * rows.num_rows, field.type)
        elif field.name in ("usage_details", "cost_details"):
            column = pa.array([[] for _ in range(rows.num_rows)], field.type)
        elif field.name == "total_cost":
            column = pa.array([_ZERO] * rows.num_rows, field.type)
        elif field.name == "span_attributes":
            attributes = column.to_pylist()
            if pc.any(pc.is_valid(pc.map_lookup(column, COUNTED_IN, "first"))).as_py():  # named before
                attributes = [[(k, v) for k, v in attrs if k != COUNTED_IN] for attrs in attributes]
            column = pa.array(
                [[*attrs, (COUNTED_IN, ",".join(names))] for attrs, names in zip(attributes, counted_on, strict=True)],
                field.type,
            )
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=rows.schema)

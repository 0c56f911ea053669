"""A trace's own input and output, where its client set them apart from its spans'.

Langfuse's SDKs set them on any span of the trace (``langfuse.trace.input``/``output``, from
``set_trace_io`` / ``update_trace`` / ``setTraceIO``); they stay that span's attributes
(otlp_receiver.mapping.rules). Of several, the one on the span that ended last wins, as in
Langfuse, which applies spans in the order they end. A trace without them shows its root's;
where the root has none of its own (an HTTP server's span around the call, OpenLLMetry's LangGraph
root, a Langfuse trace created without input), the UI's readers (sessions, previews, exports,
evaluators) show its first span's input that has one and the output of the last to end with one.
Langfuse's API gives the root's, as Langfuse does.
"""

from __future__ import annotations

from collections.abc import Sequence

from storage.api import Backend, Row

__all__ = [
    "COLUMNS",
    "FIRST_IO",
    "KEYS",
    "TRACE_INPUT",
    "TRACE_OUTPUT",
    "WHOLE",
    "TraceIo",
    "apply",
    "fill_empty",
    "from_spans",
    "of_row",
    "of_spans",
    "of_trace",
    "read",
]

TRACE_INPUT, TRACE_OUTPUT = "langfuse.trace.input", "langfuse.trace.output"
KEYS = (TRACE_INPUT, TRACE_OUTPUT)
TraceIo = tuple[str | None, str | None]  # (input, output); None: not set apart

# The latest of each among the spans read (grouped by trace), cut to {chars:UInt32} characters;
# a query that reads the spans' attributes anyway takes them along (``of_row`` reads them).
COLUMNS = f"""substringUTF8(argMaxIf(s.span_attributes['{TRACE_INPUT}'], (s.end_time, s.start_time, s.span_id),
                 s.span_attributes['{TRACE_INPUT}'] != ''), 1, {{chars:UInt32}}) AS trace_input,
       countIf(s.span_attributes['{TRACE_INPUT}'] != '') AS trace_inputs,
       substringUTF8(argMaxIf(s.span_attributes['{TRACE_OUTPUT}'], (s.end_time, s.start_time, s.span_id),
                 s.span_attributes['{TRACE_OUTPUT}'] != ''), 1, {{chars:UInt32}}) AS trace_output,
       countIf(s.span_attributes['{TRACE_OUTPUT}'] != '') AS trace_outputs"""
# Those of a page of traces alone. The attribute keys' bloom filter skips the granules of spans
# without them, so a store without any costs only the index.
_SELECT = f"""
SELECT s.trace_id AS trace_id, {COLUMNS}
FROM spans AS s
WHERE s.project_id = {{project:String}} AND s.sign = 1 AND s.trace_id IN {{ids:Array(String)}}
  AND (mapContains(s.span_attributes, '{TRACE_INPUT}') OR mapContains(s.span_attributes, '{TRACE_OUTPUT}'))"""
_WITHIN = """
  AND s.start_time >= fromUnixTimestamp64Nano({lo:Int64}, 'UTC')
  AND s.start_time <= fromUnixTimestamp64Nano({hi:Int64}, 'UTC')"""
_SQL = {True: f"{_SELECT}{_WITHIN}\nGROUP BY s.trace_id", False: f"{_SELECT}\nGROUP BY s.trace_id"}
# The first input and the last output of a page's traces' spans (grouped by trace), cut to
# {chars:UInt32} characters: the trace's where its root has none. Of spans starting (ending) at once
# the outer one, the longer.
FIRST_IO = """substringUTF8(argMinIf(s.input, (s.start_time, -toUnixTimestamp64Nano(s.end_time)), s.input != ''),
                 1, {chars:UInt32}) AS first_input,
       substringUTF8(argMaxIf(s.output, (s.end_time, -toUnixTimestamp64Nano(s.start_time)), s.output != ''),
                 1, {chars:UInt32}) AS last_output"""
WHOLE = 0  # ``chars`` for the whole input and output (Langfuse's API, the evaluator)
ALL_CHARS = 2**31  # substring's length for the whole


async def read(backend: Backend, project: str, traces: Sequence[Row], chars: int = WHOLE) -> dict[str, TraceIo]:
    """The trace input and output set apart, by trace id, of ``traces`` (rows with ``trace_id``,
    and the traces' ``start_time`` and ``end_time`` where known), each cut to ``chars`` characters."""
    if not traces:
        return {}
    params: dict[str, object] = {
        "project": project,
        "ids": [r["trace_id"] for r in traces],
        "chars": chars or ALL_CHARS,
    }
    bounded = all("start_time" in r and "end_time" in r for r in traces)
    if bounded:
        params["lo"] = min(r["start_time"] for r in traces)
        params["hi"] = max(r["end_time"] for r in traces)
    rows = await backend.query(_SQL[bounded], params)
    return {r["trace_id"]: of_row(r) for r in rows}


_ONE_SQL = f"""
SELECT {COLUMNS}, {FIRST_IO}
FROM spans AS s
WHERE s.project_id = {{project:String}} AND s.sign = 1 AND s.trace_id = {{trace:String}}"""


async def of_trace(backend: Backend, project: str, trace_id: str, row: Row) -> None:
    """Give ``row`` (one trace's root ``input`` and ``output``, whole) the trace's: the ones set
    apart, else the root's, else the trace's first and last among its spans."""
    rows = await backend.query(_ONE_SQL, {"project": project, "trace": trace_id, "chars": ALL_CHARS})
    if rows:  # an aggregate without GROUP BY: one row, even for no span
        fill_empty(row, rows[0])
        apply(row, of_row(rows[0]))


def of_row(row: Row) -> TraceIo:
    """The trace input and output set apart, from a row with ``COLUMNS``."""
    return (
        row["trace_input"] if int(row["trace_inputs"]) else None,
        row["trace_output"] if int(row["trace_outputs"]) else None,
    )


def from_spans(spans: Sequence[Row]) -> TraceIo:
    """The trace input and output set apart, from a trace's spans as ``Reader.trace`` returns them."""
    found: list[str | None] = [None, None]
    for i, key in enumerate(KEYS):
        latest: tuple[int, int, str] | None = None
        for span in spans:
            value = (span.get("span_attributes") or {}).get(key)
            if not value:
                continue
            order = (int(span["end_time"]), int(span["start_time"]), str(span["span_id"]))
            if latest is None or order > latest:
                latest, found[i] = order, str(value)
    return found[0], found[1]


def of_spans(spans: Sequence[Row]) -> tuple[str, str]:
    """The trace's input and output (as ``of_trace`` gives them) from its spans as ``Reader.trace``
    returns them."""
    if not spans:
        return "", ""
    root = min(spans, key=lambda s: (s["parent_span_id"] != "", int(s["start_time"])))
    row: Row = {"input": root["input"], "output": root["output"]}
    inputs = [s for s in spans if s["input"]]
    outputs = [s for s in spans if s["output"]]
    first: Row = {"first_input": "", "last_output": ""}
    if inputs:  # of spans starting at once, the outer (longer) one, as FIRST_IO
        first["first_input"] = min(inputs, key=lambda s: (int(s["start_time"]), -int(s["end_time"])))["input"]
    if outputs:
        first["last_output"] = max(outputs, key=lambda s: (int(s["end_time"]), -int(s["start_time"])))["output"]
    fill_empty(row, first)
    apply(row, from_spans(spans))
    return row["input"], row["output"]


def apply(row: Row, io: TraceIo) -> None:
    """Give a trace's row (with its root's ``input`` and ``output``) the ones set apart, if any."""
    if io[0] is not None:
        row["input"] = io[0]
    if io[1] is not None:
        row["output"] = io[1]


def fill_empty(row: Row, first: Row) -> None:
    """Give a trace's ``row`` whose root has no input or output of its own the first input and the
    last output among its spans (``first``: a row with ``FIRST_IO``)."""
    if not row["input"]:
        row["input"] = first.get("first_input") or ""
    if not row["output"]:
        row["output"] = first.get("last_output") or ""

"""A trace's own input and output, where its client set them apart from its spans'.

Langfuse's SDKs set them on any span of the trace (``langfuse.trace.input``/``output``, from
``set_trace_io`` / ``update_trace`` / ``setTraceIO``); they stay that span's attributes
(otlp_receiver.mapping.rules). Of several, the one on the span that ended last wins, as in
Langfuse, which applies spans in the order they end. A trace without them shows its root's.
"""

from __future__ import annotations

from collections.abc import Sequence

from storage.api import Backend, Row

__all__ = [
    "COLUMNS",
    "KEYS",
    "TRACE_INPUT",
    "TRACE_OUTPUT",
    "WHOLE",
    "TraceIo",
    "apply",
    "from_spans",
    "of_row",
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


def apply(row: Row, io: TraceIo) -> None:
    """Give a trace's row (with its root's ``input`` and ``output``) the ones set apart, if any."""
    if io[0] is not None:
        row["input"] = io[0]
    if io[1] is not None:
        row["output"] = io[1]

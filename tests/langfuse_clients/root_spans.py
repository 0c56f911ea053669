"""A span processor for client scripts: the trace ids of the root spans ended, in order, so a
script can print the ids of the traces it sent (its directory is on the path of a script run)."""

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor


class Roots(SpanProcessor):
    """The trace ids of the root spans ended, in order."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def on_end(self, span: ReadableSpan) -> None:
        if span.parent is None:
            self.ids.append(format(span.context.trace_id, "032x"))

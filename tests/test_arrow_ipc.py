"""Arrow IPC streams (a logged batch's, a decoder process's table), written into a buffer sized first."""

import pyarrow as pa
import pytest

from otlp_receiver.decode import DecodeContext, decode_request
from storage.arrow_ipc import ipc_stream
from storage.writer import SPAN_SCHEMA, conform
from tests.otlp_data import one_span, request


def growing_buffer_stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table)
    return sink.getvalue().to_pybytes()


def decoded_spans() -> pa.Table:
    body = request(
        [{"trace_id": bytes([i]) * 16, "name": f"s{i}", "attrs": {"k": "v" * i, "n": i}} for i in range(1, 40)]
    )
    return conform(decode_request(body, DecodeContext(project_id="p")).table)


@pytest.mark.parametrize(
    "table",
    [
        pytest.param(decoded_spans(), id="spans"),
        pytest.param(pa.concat_tables([decoded_spans(), decoded_spans(), decoded_spans()]), id="three-chunks"),
        pytest.param(SPAN_SCHEMA.empty_table(), id="no-rows"),
        pytest.param(
            pa.table(
                {
                    "m": pa.array([[("a", "b")], None, []], pa.map_(pa.string(), pa.string())),
                    "l": pa.array([[1, None], None, [3]], pa.list_(pa.int64())),
                    "s": pa.array(["x" * 100_000, None, ""]),
                }
            ),
            id="maps-lists-nulls",
        ),
    ],
)
def test_the_stream_is_the_one_a_growing_buffer_writes(table: pa.Table) -> None:
    written = ipc_stream(table)
    assert written.to_pybytes() == growing_buffer_stream(table)  # every byte, none left over
    assert pa.ipc.open_stream(written).read_all().equals(table)


def test_one_span_round_trips() -> None:
    table = conform(decode_request(one_span(), DecodeContext(project_id="p")).table)
    assert pa.ipc.open_stream(ipc_stream(table)).read_all().equals(table)

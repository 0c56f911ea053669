"""Arrow IPC streams: an insert's, in pieces, and a logged batch's, written into a buffer sized first."""

import pyarrow as pa
import pytest

from otlp_receiver.decode import DecodeContext, decode_request
from storage import Store, arrow_ipc
from storage.arrow_ipc import STREAM_END, ipc_pieces, ipc_stream
from storage.backends._errors import StorageError
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


@pytest.mark.parametrize("piece_bytes", [1, 60_000, 1 << 20])
def test_the_pieces_are_the_stream_in_whole_messages(piece_bytes: int) -> None:
    table = pa.concat_tables([decoded_spans()] * 6)
    pieces = list(ipc_pieces(table, piece_bytes))
    assert b"".join(pieces) == ipc_stream(table).to_pybytes()
    # The schema alone, then batches gathered until a piece reaches the size, then the end alone.
    assert pieces[0] == table.schema.serialize().to_pybytes() and pieces[-1] == STREAM_END
    batch = table.to_batches()[0].serialize().size
    sizes = [len(p) for p in pieces[1:-1]]
    assert all(size % batch == 0 and size - batch < piece_bytes for size in sizes)
    assert all(size >= piece_bytes for size in sizes[:-1])
    per_piece = -(-piece_bytes // batch)  # batches it takes to reach the size
    assert sum(sizes) == 6 * batch and len(sizes) == -(-6 // per_piece)


async def test_an_insert_in_pieces_is_one_part(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arrow_ipc, "PIECE_BYTES", 1)  # a piece per batch
    await store.backend.execute("CREATE TABLE pieces (k UInt32, v String) ENGINE = MergeTree ORDER BY k")
    await store.backend.execute("SYSTEM STOP MERGES pieces")
    chunks = [
        pa.table({"k": pa.array(range(i * 100, i * 100 + 100), pa.uint32()), "v": ["x" * i] * 100}) for i in range(5)
    ]
    await store.backend.insert("pieces", pa.concat_tables(chunks))
    stored = await store.backend.query("SELECT count() AS n, sum(length(v)) AS chars FROM pieces")
    assert stored == [{"n": 500, "chars": 100 * (1 + 2 + 3 + 4)}]
    parts = await store.backend.query("SELECT count() AS n FROM system.parts WHERE table = 'pieces' AND active")
    assert parts == [{"n": 1}]  # one insert, one part: a part per piece would multiply merges


async def test_a_piece_refused_midway_stores_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arrow_ipc, "PIECE_BYTES", 1)
    await store.backend.execute("CREATE TABLE pieces (k UInt32) ENGINE = MergeTree ORDER BY k")
    good, bad = pa.table({"k": ["1", "2"]}), pa.table({"k": ["3", "not a number"]})
    with pytest.raises(StorageError, match="Cannot parse string 'not a number'"):
        await store.backend.insert("pieces", pa.concat_tables([good, bad]))
    assert await store.backend.query("SELECT count() AS n FROM pieces") == [{"n": 0}]
    await store.backend.insert("pieces", good)  # the writer's connection takes the next insert
    assert await store.backend.query("SELECT count() AS n FROM pieces") == [{"n": 2}]

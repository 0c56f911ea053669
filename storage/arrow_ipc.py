"""Arrow tables as IPC streams, for the engine's inserts and the write-ahead log."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

__all__ = ["STREAM_END", "ipc_pieces", "ipc_stream"]

# The stream's end-of-stream marker: a continuation token and a zero-length message.
STREAM_END = b"\xff\xff\xff\xff\x00\x00\x00\x00"
# About the size of a piece ``ipc_pieces`` gives. Smaller pieces kept an insert's peak lower (1 MiB
# against 4 and 16, measured with 16k-span inserts, docs/benchmarks.md); each piece costs a call.
PIECE_BYTES = 1 << 20


def ipc_stream(table: pa.Table) -> pa.Buffer:
    """``table`` as an Arrow IPC stream, in one buffer of exactly its size.

    Measured first (a pass that writes nothing), then written once: a growing buffer copies
    itself at each doubling, and in a server, which hands freed memory back at once
    (``MIMALLOC_PURGE_DELAY``), faults in fresh pages each time: 7.2 against 3.0 ms for an insert
    of 4,608 spans (17 MB, docs/benchmarks.md)."""
    size = pa.MockOutputStream()
    with pa.ipc.new_stream(size, table.schema) as stream:
        stream.write_table(table)
    buffer = pa.allocate_buffer(size.size())
    with pa.ipc.new_stream(pa.FixedSizeBufferWriter(buffer), table.schema) as stream:
        stream.write_table(table)
    return buffer


def ipc_pieces(table: pa.Table, piece_bytes: int | None = None) -> Iterator[bytes]:
    """``table``'s Arrow IPC stream (the bytes ``ipc_stream`` writes) in pieces of about
    ``piece_bytes`` (``PIECE_BYTES``), whole messages each: the schema, its record batches, the end.

    For inserts: the whole stream in one buffer, and its copy into ``bytes`` (chDB takes no
    other), held twice a large insert's size beside what the engine builds from it; a 16k-span
    insert peaked ~100 MB higher that way, and took more CPU (docs/benchmarks.md)."""
    limit = PIECE_BYTES if piece_bytes is None else piece_bytes
    yield table.schema.serialize().to_pybytes()
    piece: list[pa.Buffer] = []
    size = 0
    for batch in table.to_batches():
        message = batch.serialize()
        piece.append(message)
        size += message.size
        if size >= limit:
            yield b"".join(piece)
            piece, size = [], 0
    if piece:
        yield b"".join(piece)
    yield STREAM_END

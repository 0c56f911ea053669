"""Inflating OTLP bodies: each Content-Encoding the HTTP receiver takes, over one request of the
seeded workload (2,000 spans), best of twenty: its size beside the body's and the time to inflate
it (``otlp_receiver.content_encodings.inflate``, with its bounds).

    python -m bench.content_encodings
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Callable

import cramjam
import lz4.frame
import zstandard

from bench.workload import Workload
from otlp_receiver.content_encodings import inflate

SPANS = 2000
PACKERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "zstd": zstandard.ZstdCompressor().compress,
    "snappy (framed)": lambda body: bytes(cramjam.snappy.compress(body)),
    "snappy (block)": lambda body: bytes(cramjam.snappy.compress_raw(body)),
    "lz4": lz4.frame.compress,
}


def main() -> None:
    body = next(iter(Workload().batches(SPANS, SPANS, time.time_ns()))).fresh(b"encodings")[0]
    report: dict[str, object] = {"spans": SPANS, "body_bytes": len(body)}
    for name, pack in PACKERS.items():
        packed = pack(body)
        encoding = name.split(" ")[0]
        best = float("inf")
        for _ in range(20):
            start = time.perf_counter()
            out = inflate(packed, encoding, 1 << 30)
            best = min(best, time.perf_counter() - start)
        assert out == body, name
        report[name] = {
            "of_the_body": round(len(packed) / len(body), 3),
            "inflate_ms": round(best * 1e3, 2),
            "us_per_span": round(best / SPANS * 1e6, 2),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

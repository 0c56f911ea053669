"""Coverage-guided fuzzing (atheris, libFuzzer) of the OTLP decoders: protobuf and JSON bodies in,
a decoded batch or InvalidInput out; anything else is a crash libFuzzer reports.

    python tests/fuzz/fuzz_decoders.py [CORPUS_DIR] -runs=100000 -max_total_time=600

tests/test_fuzz.py runs it briefly in CI with a seed corpus of valid requests.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports(include=["otlp_receiver"]):
    from otlp_receiver.decode import DecodeContext, decode_body

from tracehouse.errors import InvalidInput

CTX = DecodeContext(project_id="default")


def one_input(data: bytes) -> None:
    if not data:
        return
    # The first byte picks the format, so one corpus serves both decoders.
    fmt = "json" if data[0] & 1 else "protobuf"
    with contextlib.suppress(InvalidInput):
        decode_body(data[1:], fmt, CTX)


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

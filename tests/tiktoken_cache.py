"""Fill a tiktoken cache directory with OpenAI's encodings, as tiktoken would download them, from
the copy the npm package js-tiktoken ships (the tests run without internet access; ./dev test runs
this). tiktoken checks each file's SHA-256 when it reads it, so a wrong copy is never used.

Usage: python -m tests.tiktoken_cache <js-tiktoken's node_modules> <cache directory>
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from otlp_receiver.token_count import ENCODING_URL

ENCODINGS = ("o200k_base", "cl100k_base")


def tiktoken_file(module: Path) -> bytes:
    """js-tiktoken's ranks module (``module.exports = {..., "bpe_ranks": ...}``; each line of its
    bpe_ranks: a marker, the first rank, then the base64 tokens of that rank on) as tiktoken's
    file: one ``<base64 token> <rank>`` line per token, by rank."""
    text = module.read_text()
    ranks = json.loads(text[text.index("{") : text.rindex("}") + 1])["bpe_ranks"]
    pairs: list[tuple[int, str]] = []
    for line in ranks.split("\n"):
        if line:
            _, first, *tokens = line.split(" ")
            pairs += [(int(first) + i, token) for i, token in enumerate(tokens)]
    return "".join(f"{token} {rank}\n" for rank, token in sorted(pairs)).encode()


def main(node_modules: str, cache: str) -> None:
    out = Path(cache)
    out.mkdir(parents=True, exist_ok=True)
    for name in ENCODINGS:
        data = tiktoken_file(Path(node_modules) / "js-tiktoken" / "dist" / "ranks" / f"{name}.cjs")
        (out / hashlib.sha1(ENCODING_URL.format(name).encode()).hexdigest()).write_bytes(data)


if __name__ == "__main__":
    main(*sys.argv[1:3])

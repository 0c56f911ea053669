"""Compressed request bodies: the Content-Encodings OTLP exporters send, inflated with a bound.

OTLP/HTTP requires servers to take gzip; the OpenTelemetry SDKs also offer deflate (Python's
``OTEL_EXPORTER_OTLP_COMPRESSION=deflate``), and the Collector's otlphttp exporter zstd, zlib and
deflate too. Each inflates to at most ``limit`` bytes, so a small bomb costs nothing, and a body
cut short is refused rather than read as fewer spans.
"""

from __future__ import annotations

import zlib

import zstandard

from tracehouse.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

__all__ = ["ENCODINGS", "inflate"]

ENCODINGS = ("gzip", "deflate", "zlib", "zstd")
# zstd's densest block (a run) turns 4 bytes into 128 KiB: fed this many bytes at a time, one
# step makes at most ~32 MiB before the limit is checked.
_ZSTD_STEP = 1024


def inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """``body`` decoded from ``encoding`` (a Content-Encoding header; none or identity: as is)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        return _inflate_zlib(body, 16 + zlib.MAX_WBITS, encoding, limit)
    if encoding in ("deflate", "zlib"):
        # HTTP's deflate is zlib-wrapped (RFC 9110); some clients send the raw stream instead.
        wrapped = len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0
        return _inflate_zlib(body, zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS, encoding, limit)
    if encoding == "zstd":
        return _inflate_zstd(body, limit)
    raise UnsupportedMediaType(f"unsupported Content-Encoding {encoding!r}: use {', '.join(ENCODINGS)} or none")


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the body inflates to more than {limit} bytes (TRACEHOUSE_MAX_BODY_BYTES); send smaller batches"
    )


def _inflate_zlib(body: bytes, wbits: int, encoding: str, limit: int) -> bytes:
    out, rest = bytearray(), body
    while True:  # gzip members may follow one another (RFC 1952), each a part of the body
        inflater = zlib.decompressobj(wbits)
        try:
            out += inflater.decompress(rest, limit + 1 - len(out))
        except zlib.error as exc:
            raise InvalidInput(f"the body is not valid {encoding}: {exc}") from None
        if len(out) > limit or inflater.unconsumed_tail:
            raise _too_large(limit)
        if not inflater.eof:
            raise InvalidInput(f"the {encoding} body is truncated")
        rest = inflater.unused_data
        if not rest:
            return bytes(out)
        if encoding != "gzip":
            raise InvalidInput(f"the {encoding} body goes on for {len(rest)} bytes after its end")


def _inflate_zstd(body: bytes, limit: int) -> bytes:
    out, rest = bytearray(), body
    while True:  # frames may follow one another, each a part of the body
        inflater = zstandard.ZstdDecompressor().decompressobj()
        try:
            for start in range(0, len(rest), _ZSTD_STEP):
                out += inflater.decompress(rest[start : start + _ZSTD_STEP])
                if len(out) > limit:
                    raise _too_large(limit)
                if inflater.eof:
                    break
        except zstandard.ZstdError as exc:
            raise InvalidInput(f"the body is not valid zstd: {exc}") from None
        if not inflater.eof:
            raise InvalidInput("the zstd body is truncated")
        rest = inflater.unused_data
        if not rest:
            return bytes(out)

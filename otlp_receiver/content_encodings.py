"""Compressed request bodies: the Content-Encodings OTLP exporters send, inflated with a bound.

OTLP/HTTP requires servers to take gzip; the OpenTelemetry SDKs also offer deflate (Python's
``OTEL_EXPORTER_OTLP_COMPRESSION=deflate``), and the Collector's otlphttp exporter zstd, zlib,
deflate, snappy and lz4 too (its ``compression`` option; Grafana Alloy's too). Its snappy has been
the framed format (golang/snappy's buffered writer) and the block format, both under ``snappy``,
the framed one also as ``x-snappy-framed``; its lz4 is the LZ4 frame format. Each inflates to at
most ``limit`` bytes, so a small bomb costs nothing, and a body cut short is refused rather than
read as fewer spans.
"""

from __future__ import annotations

import zlib

import cramjam
import lz4.frame
import zstandard

from tracehouse.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

__all__ = ["ENCODINGS", "inflate"]

ENCODINGS = ("gzip", "deflate", "zlib", "zstd", "snappy", "x-snappy-framed", "lz4")
# The framed snappy format's first chunk: its stream identifier.
_SNAPPY_STREAM = b"\xff\x06\x00\x00sNaPpY"
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
    if encoding in ("snappy", "x-snappy-framed"):
        framed = encoding == "x-snappy-framed" or body.startswith(_SNAPPY_STREAM)
        return _inflate_snappy_framed(body, encoding, limit) if framed else _inflate_snappy_block(body, encoding, limit)
    if encoding == "lz4":
        return _inflate_lz4(body, limit)
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


def _snappy_length(block: bytes, encoding: str) -> int:
    """The length a snappy block says it inflates to (its header), checked before inflating."""
    try:
        return int(cramjam.snappy.decompress_raw_len(block))
    except cramjam.DecompressionError as exc:
        raise InvalidInput(f"the body is not valid {encoding}: {exc}") from None


def _inflate_snappy_block(body: bytes, encoding: str, limit: int) -> bytes:
    if _snappy_length(body, encoding) > limit:
        raise _too_large(limit)
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as exc:
        raise InvalidInput(f"the body is not valid {encoding}: {exc}") from None


def _inflate_snappy_framed(body: bytes, encoding: str, limit: int) -> bytes:
    # Each chunk: a type byte and a 3-byte length; a compressed one (0x00) a checksum and a block,
    # an uncompressed one (0x01) a checksum and its bytes. What they inflate to is summed from
    # their headers before any is inflated.
    if not body.startswith(_SNAPPY_STREAM):
        raise InvalidInput(f"the body is not valid {encoding}: the framed format starts with its stream identifier")
    total, at = 0, 0
    while at < len(body):
        if at + 4 > len(body):
            raise InvalidInput(f"the {encoding} body is truncated")
        kind, size = body[at], int.from_bytes(body[at + 1 : at + 4], "little")
        chunk = body[at + 4 : at + 4 + size]
        if len(chunk) < size:
            raise InvalidInput(f"the {encoding} body is truncated")
        if kind == 0x00:
            total += _snappy_length(chunk[4:], encoding)
        elif kind == 0x01:
            total += max(size - 4, 0)
        if total > limit:
            raise _too_large(limit)
        at += 4 + size
    try:
        return bytes(cramjam.snappy.decompress(body))
    except cramjam.DecompressionError as exc:
        raise InvalidInput(f"the body is not valid {encoding}: {exc}") from None


def _inflate_lz4(body: bytes, limit: int) -> bytes:
    out, rest = bytearray(), body
    while True:  # frames may follow one another, each a part of the body
        inflater = lz4.frame.LZ4FrameDecompressor()
        try:
            out += inflater.decompress(rest, max_length=limit + 1 - len(out))
        except RuntimeError as exc:
            raise InvalidInput(f"the body is not valid lz4: {exc}") from None
        if len(out) > limit:
            raise _too_large(limit)
        if not inflater.eof:
            raise InvalidInput("the lz4 body is truncated")
        rest = inflater.unused_data or b""
        if not rest:
            return bytes(out)

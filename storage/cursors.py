"""Page cursors: the sort values of a page's last row, opaque to clients (URL-safe base64 of JSON)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tracehouse.errors import InvalidInput

__all__ = ["decode_cursor", "encode_cursor"]


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([str(v) if isinstance(v, Decimal) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: Sequence[type]) -> list[Any]:
    """Decode a cursor made by ``encode_cursor``; anything else is InvalidInput."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("wrong shape")
        return [kind(v) for kind, v in zip(kinds, values, strict=True)]
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise InvalidInput(f"invalid cursor {cursor[:40]!r}: pass back a next_cursor value unchanged") from exc

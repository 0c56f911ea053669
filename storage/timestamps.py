"""Times read back from either backend as aware UTC datetimes (chDB and clickhouse-driver differ)."""

from __future__ import annotations

import datetime as dt
from typing import Any

__all__ = ["as_utc"]


def as_utc(value: Any) -> dt.datetime:
    """A stored DateTime64 as an aware UTC datetime."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.UTC)

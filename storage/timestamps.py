"""Times read back from either backend as aware UTC datetimes (chDB and clickhouse-driver differ)."""

from __future__ import annotations

import datetime as dt
from typing import Any

__all__ = ["as_utc", "epoch_ms", "epoch_us"]


def as_utc(value: Any) -> dt.datetime:
    """A stored DateTime64 as an aware UTC datetime."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.UTC)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def epoch_ms(value: dt.datetime) -> int:
    """An aware datetime as whole milliseconds since the epoch, exactly (no float on the way):
    what page cursors compare with ``toUnixTimestamp64Milli``."""
    return (value - _EPOCH) // dt.timedelta(milliseconds=1)


def epoch_us(value: dt.datetime) -> int:
    """An aware datetime as whole microseconds since the epoch, exactly."""
    return (value - _EPOCH) // dt.timedelta(microseconds=1)

"""Translation of ClickHouse error codes into Tracehouse errors (one table, both drivers)."""

from __future__ import annotations

import re

from tracehouse.errors import StorageUnavailable

__all__ = ["AUTH_CODES", "RETRYABLE_CODES", "StorageError", "clickhouse_code", "summary", "translate"]

# ClickHouse error codes that mean "the store cannot take this now; try again later"
# (src/Common/ErrorCodes.cpp): timeouts, memory, disk, too many parts/queries, network.
RETRYABLE_CODES = {
    3: "UNEXPECTED_END_OF_FILE",
    159: "TIMEOUT_EXCEEDED",
    160: "TOO_SLOW",
    202: "TOO_MANY_SIMULTANEOUS_QUERIES",
    209: "SOCKET_TIMEOUT",
    210: "NETWORK_ERROR",
    236: "ABORTED",
    241: "MEMORY_LIMIT_EXCEEDED",
    242: "TABLE_IS_READ_ONLY",
    243: "NOT_ENOUGH_SPACE",
    252: "TOO_MANY_PARTS",
    279: "ALL_CONNECTION_TRIES_FAILED",
    319: "UNKNOWN_STATUS_OF_INSERT",
    425: "SYSTEM_ERROR",
}

# The server refused the credentials: a configuration problem, not an outage.
AUTH_CODES = {192: "UNKNOWN_USER", 193: "WRONG_PASSWORD", 194: "REQUIRED_PASSWORD", 516: "AUTHENTICATION_FAILED"}

_CODE = re.compile(r"Code: (\d+)")


class StorageError(RuntimeError):
    """A statement failed for a reason that retrying will not fix (a bug or bad data)."""


def clickhouse_code(message: str) -> int | None:
    """The ClickHouse error code quoted in a driver message, if any."""
    match = _CODE.search(message)
    return int(match.group(1)) if match else None


def summary(exc: BaseException) -> str:
    """One line saying what the server said: the drivers put "Code: N." and the message on
    separate lines."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    first = lines[0]
    if re.fullmatch(r"Code: \d+\.", first) and len(lines) > 1:
        first = f"{first} {lines[1]}"
    return first[:300]


def translate(exc: BaseException, what: str) -> Exception:
    """Map a driver exception to StorageUnavailable (retryable) or StorageError."""
    message = str(exc).strip()
    code = getattr(exc, "code", None) or clickhouse_code(message)
    first_line = summary(exc)
    if code in RETRYABLE_CODES or isinstance(exc, (OSError, EOFError, TimeoutError)):
        return StorageUnavailable(f"store unavailable during {what}: {first_line}")
    return StorageError(f"{what} failed: {first_line}")

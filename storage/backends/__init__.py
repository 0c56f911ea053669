"""Storage backends: embedded chDB and ClickHouse server. Only this package imports the drivers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from storage.api import Backend

__all__ = ["open_backend"]


def open_backend(
    *, data_dir: Path | None = None, clickhouse_url: str | None = None, server_options: Mapping[str, Any] | None = None
) -> Backend:
    """Open the embedded store on ``data_dir``, or connect to ``clickhouse_url`` if given
    (``server_options``: read_url, pool_size, async_insert).

    Raises ``StoreLocked`` when another process holds the data directory, ``ConfigError``
    for refused credentials or a server too old, and ``StorageUnavailable`` when the server
    cannot be reached.
    """
    if clickhouse_url:
        from storage.backends.server import ServerBackend

        return ServerBackend.connect(clickhouse_url, **dict(server_options or {}))
    from storage.backends.embedded import EmbeddedBackend

    if data_dir is None:
        raise ValueError("data_dir is required for the embedded store")
    return EmbeddedBackend.open(data_dir)

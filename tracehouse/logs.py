"""Logging set-up: readable text lines, or one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
import time

from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["setup_logging"]


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _ClientRequestErrors(logging.Filter):
    """aiohttp answers a request it cannot parse (a URL or header past its limits, a broken
    request line) with a 400 itself, then logs it as an error with a traceback: the client's
    fault, not ours, and a client sending many would fill the log. One line at INFO instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError) or not 400 <= (exc.code or 400) < 500:
            return True
        if not logging.getLogger().isEnabledFor(logging.INFO):
            return False
        said = record.getMessage()
        record.msg, record.args = "%s: %s %s", (said, exc.code or 400, " ".join(str(exc.message).split()))
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info, record.exc_text = None, None
        return True


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    server = logging.getLogger("aiohttp.server")
    server.filters[:] = [f for f in server.filters if not isinstance(f, _ClientRequestErrors)]
    server.addFilter(_ClientRequestErrors())
    # The driver logs every failed connection attempt with a traceback; storage turns
    # the failure into one clear StorageUnavailable message instead.
    logging.getLogger("clickhouse_driver").setLevel(logging.ERROR)

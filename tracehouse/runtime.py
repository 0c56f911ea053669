"""``<data-dir>/server.json``: how a running ``tracehouse serve`` tells local commands where it is.

It holds the process id, the API's loopback URL and the admin token. It is written with
mode 0600 once the server listens, and removed at shutdown.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["RUNTIME_FILE", "RuntimeInfo", "read_runtime", "remove_runtime", "write_runtime"]

RUNTIME_FILE = "server.json"


@dataclass(frozen=True)
class RuntimeInfo:
    pid: int
    api_url: str
    admin_token: str
    otlp_http_url: str = ""
    otlp_grpc_address: str = ""


def write_runtime(data_dir: Path, info: RuntimeInfo) -> None:
    path = data_dir / RUNTIME_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(info), f)
    os.replace(tmp, path)


def read_runtime(data_dir: Path) -> RuntimeInfo | None:
    try:
        raw = json.loads((data_dir / RUNTIME_FILE).read_text())
        return RuntimeInfo(
            pid=int(raw["pid"]),
            api_url=str(raw["api_url"]),
            admin_token=str(raw["admin_token"]),
            otlp_http_url=str(raw.get("otlp_http_url", "")),
            otlp_grpc_address=str(raw.get("otlp_grpc_address", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_runtime(data_dir: Path) -> None:
    (data_dir / RUNTIME_FILE).unlink(missing_ok=True)

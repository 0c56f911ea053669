"""One process per embedded data directory, enforced with an OS file lock.

chDB refuses a second process on the same directory with a low-level error; taking
our own lock first lets us say who holds it and what to do instead.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from tracehouse.errors import StoreLocked

__all__ = ["LOCK_NAME", "DirLock", "is_locked"]

LOCK_NAME = "tracehouse.lock"


class DirLock:
    """An exclusive, non-blocking lock on ``<data_dir>/tracehouse.lock``, released on close or exit."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise StoreLocked naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreLocked(
                f"the data directory {self.path.parent} is in use by another Tracehouse process "
                f"(pid {holder}); the embedded store allows one process per directory: stop that "
                f"process, or pass --data-dir to use another directory"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def is_locked(data_dir: Path) -> bool:
    """True when some process holds the lock of ``data_dir`` right now."""
    path = data_dir / LOCK_NAME
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False

"""Hand back the pages of a loaded library that only its start-up touched.

chDB's library is 555 MB. Loading it runs ClickHouse's start-up, which registers every function,
format and table engine and so touches 170-180 MB of its code and read-only data, all counted in
the server's RSS for as long as it runs. Serving spans reads only part of that again: a server
that drops them once the engine has started holds 226 MB of file pages under load instead of
310 MB (docs/benchmarks.md). They are clean pages of the file, which the kernel may drop under
memory pressure at any time and read back on the next touch; dropping them ourselves does the
same thing early. What the server uses comes back on its first touch, from the page cache.

Only mappings that cannot hold data of the process's own are dropped: not writable, and with no
dirty or anonymous page (the relocated read-only data, RELRO, has private dirty pages and is
kept). Linux only; elsewhere, and on any error, nothing happens.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Mapping", "clean_mappings", "parse_smaps", "release_library_pages"]

log = logging.getLogger(__name__)

MADV_DONTNEED = 4


@dataclass
class Mapping:
    """One mapping of /proc/self/smaps: its address range, permissions, file, and numeric fields
    (kB)."""

    start: int
    end: int
    perms: str
    path: str
    fields: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """Read-only, and nothing in it that the file cannot give back."""
        dirty = sum(self.fields.get(k, 0) for k in ("Private_Dirty", "Shared_Dirty", "Anonymous"))
        return "w" not in self.perms and dirty == 0


def parse_smaps(smaps: str) -> list[Mapping]:
    """The mappings of a /proc/<pid>/smaps text, with their numeric fields."""
    mappings: list[Mapping] = []
    for line in smaps.splitlines():
        head, _, rest = line.partition(" ")
        if "-" in head and not head.endswith(":"):
            parts = line.split(maxsplit=5)
            start, end = (int(x, 16) for x in parts[0].split("-"))
            mappings.append(Mapping(start, end, parts[1], parts[5] if len(parts) > 5 else ""))
        elif mappings and head.endswith(":"):
            value = rest.split()
            if value and value[0].isdigit():
                mappings[-1].fields[head[:-1]] = int(value[0])
    return mappings


def clean_mappings(library: Path) -> list[Mapping]:
    """The clean, read-only mappings of ``library`` in this process (empty off Linux)."""
    try:
        smaps = Path("/proc/self/smaps").read_text()
    except OSError:
        return []
    real = os.path.realpath(library)
    return [m for m in parse_smaps(smaps) if m.path == real and m.clean]


def release_library_pages(library: Path) -> int:
    """Drop this process's resident pages of ``library``'s clean, read-only mappings; the bytes
    that were resident in them (0 if nothing could be done)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        released = 0
        for m in clean_mappings(library):
            if madvise(m.start, m.end - m.start, MADV_DONTNEED) == 0:
                released += m.fields.get("Rss", 0) * 1024
        log.debug("released %d MB of %s", released >> 20, library.name)
        return released
    except (OSError, AttributeError, ValueError) as exc:  # best effort: never fail a start
        log.debug("could not release the pages of %s: %s", library, exc)
        return 0

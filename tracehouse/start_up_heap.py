"""Keep a server's start-up objects out of the garbage collector's full collections.

A serving process holds ~95,000 objects made at start-up (modules, functions, classes, the app's
routes and models) that live as long as it does. CPython's full collection walks every one of
them each time, holding the GIL: 46-50 ms on an idle server, up to 65-70 ms under ingest load,
while requests wait (measured, docs/benchmarks.md). Frozen once start-up is done, they are left
out of every later collection; what is made afterwards is collected as before.
"""

from __future__ import annotations

import gc

__all__ = ["settle_start_up_heap"]


def settle_start_up_heap() -> int:
    """Collect start-up's garbage, then freeze what is left (call once, when the process is ready
    to serve); the objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()

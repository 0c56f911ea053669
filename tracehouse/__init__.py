"""Tracehouse: an OpenTelemetry-native trace backend for LLM applications."""

import os

# pyarrow's allocator (mimalloc) keeps freed pages for a second before it hands them back, and
# decoding spans frees tens of MB every second: under load the server held ~60 MB it no longer
# used (docs/benchmarks.md). mimalloc reads this when pyarrow loads, so it is set here, in the
# package every entry point imports first. A MIMALLOC_PURGE_DELAY of the user's own wins.
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")

__version__ = "0.1.0"
__all__ = ["__version__"]

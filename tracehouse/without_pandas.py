"""Keep pandas out of a server process.

pyarrow imports pandas, when it is installed (chDB depends on it), the first time it turns a
Python list into an array, only to ask whether the list is a pandas object: about 300 modules
and ~36 MB of every server process's memory (measured), for a library Tracehouse never uses.
pyarrow asks once (twice: its Python and its C++ side) and remembers the answer, so letting those
imports fail keeps pandas out. Code that imports pandas itself still can.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

__all__ = ["keep_pandas_out"]


class _NoPandas(MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname.partition(".")[0] == "pandas":
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def keep_pandas_out() -> None:
    """Answer pyarrow's "is pandas installed?" with no, before anything converts a list.
    Call at a process's start; once pandas is imported it changes nothing."""
    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])  # both of pyarrow's tries at importing pandas happen here
    finally:
        sys.meta_path.remove(finder)

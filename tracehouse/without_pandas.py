"""Keep pandas out of a server process.

pyarrow imports pandas, when it is installed (chDB depends on it), the first time it turns a
Python list into an array, only to ask whether the list is a pandas object: about 300 modules
and ~36 MB of every server process's memory (measured), for a library Tracehouse never uses.
chDB's Python() table function, which the embedded store's inserts read their Arrow tables
through, imports it at each insert for the same question. Both take a failed import as "no", so
a server process refuses the import of pandas for its whole life.
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
    """Answer "is pandas installed?" with no from now on, in this process (a server's: nothing in
    it uses pandas). Call at a process's start; once pandas is imported it changes nothing."""
    if "pandas" in sys.modules or any(isinstance(f, _NoPandas) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _NoPandas())

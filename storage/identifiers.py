"""Identifiers (table and column names) are the one thing SQL cannot bind; they come
only from our own schema, and this check makes sure of it."""

from __future__ import annotations

import re

__all__ = ["check_identifier"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def check_identifier(name: str) -> str:
    """Return ``name`` if it is a plain identifier, else raise ValueError."""
    if not _IDENT.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name

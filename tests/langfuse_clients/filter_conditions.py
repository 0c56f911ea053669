"""Langfuse's ``filter`` conditions, as its SDKs' documentation writes them: imported by the
client scripts that send them (their own directory is on their path)."""

# Before every trace of the tests: a lower bound that holds them all.
SINCE = "2020-01-01T00:00:00Z"


def cond(kind: str, column: str, operator: str, value: object = None, key: str | None = None) -> dict:
    """One condition as Langfuse's filter takes it."""
    out = {"type": kind, "column": column, "operator": operator, "value": value}
    return {**out, "key": key} if key else out

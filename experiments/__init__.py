"""Datasets and experiments: test sets of inputs and expected outputs, runs of an application over
them, and their comparison; wire-compatible with the Langfuse SDKs. Storage is ``storage.datasets``."""

from experiments.service import STATUSES, DatasetRuleError, DatasetService

__all__ = ["STATUSES", "DatasetRuleError", "DatasetService"]

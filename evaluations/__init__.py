"""Evaluations: LLM-as-a-judge from evaluator templates and rules, run by a worker from a durable job
table, its scores written through the ingest path. Storage is ``storage.evaluations``."""

from evaluations.service import EvaluationService
from evaluations.worker import EvalWorker
from storage.evaluations import ALL_JOBS, JobShard

__all__ = ["ALL_JOBS", "EvalWorker", "EvaluationService", "JobShard"]

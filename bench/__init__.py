"""Benchmarks: seeded workload generator and the ingest benchmark."""

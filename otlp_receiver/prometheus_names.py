"""OTel metric names and attributes -> Prometheus names and labels, as OpenTelemetry's Prometheus
exporter maps them (https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/):

- characters outside ``[a-zA-Z0-9_:]`` become ``_``, runs of ``_`` one, a leading digit gets ``_``;
- the unit, in words, is appended when the name does not already end with it (``s`` -> ``seconds``,
  ``By`` -> ``bytes``, ``By/s`` -> ``bytes_per_second``); annotations in braces (``{token}``) are
  dropped, and ``1`` on a gauge is ``ratio``;
- monotonic sums end in ``_total``; histograms are a base name the API extends with ``_bucket``,
  ``_sum`` and ``_count``;
- resource ``service.namespace``/``service.name`` is the ``job`` label, ``service.instance.id`` the
  ``instance`` label.

So ``gen_ai.client.operation.duration`` (a histogram in ``s``) is
``gen_ai_client_operation_duration_seconds_bucket``, and ``gen_ai.client.token.usage`` (``{token}``)
is ``gen_ai_client_token_usage_bucket``.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["job_and_instance", "label_name", "metric_name"]

# UCUM units -> words, as the exporter spells them.
UNIT_WORDS = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "%": "percent",
}
PER_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}

_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")
_RUNS = re.compile(r"__+")


def _sanitize(text: str, pattern: re.Pattern[str], strip: bool = False) -> str:
    out = _RUNS.sub("_", pattern.sub("_", text))
    if strip:
        out = out.strip("_")
    return "_" + out if out[:1].isdigit() else out


def _unit_words(unit: str, kind: str) -> str:
    unit = re.sub(r"\{[^}]*\}", "", unit).strip()
    if not unit:
        return ""
    if unit == "1":
        return "ratio" if kind == "gauge" else ""
    main, _, per = unit.partition("/")
    words = UNIT_WORDS.get(main, main)
    if per:
        words = f"{words}_per_{PER_WORDS.get(per, UNIT_WORDS.get(per, per))}" if main else ""
    return _sanitize(words, _INVALID_LABEL, strip=True)


def metric_name(name: str, unit: str, kind: str, monotonic: bool) -> str:
    """The Prometheus name of an OTel metric (histograms: the base of _bucket, _sum and _count)."""
    out = _sanitize(name, _INVALID, strip=True) or "_"
    words = _unit_words(unit, kind)
    if words and not out.endswith("_" + words) and out != words:
        out = f"{out}_{words}"
    if kind == "sum" and monotonic and not out.endswith("_total"):
        out += "_total"
    return out


def label_name(key: str) -> str:
    """An attribute key as a Prometheus label name."""
    out = _sanitize(key, _INVALID_LABEL)
    return out if out and out != "_" else "key_"


def job_and_instance(resource: dict[str, Any]) -> dict[str, str]:
    """The ``job`` and ``instance`` labels of a resource, where it names them."""
    labels = {}
    service = resource.get("service.name")
    namespace = resource.get("service.namespace")
    if isinstance(service, str) and service:
        labels["job"] = f"{namespace}/{service}" if isinstance(namespace, str) and namespace else service
    instance = resource.get("service.instance.id")
    if isinstance(instance, str) and instance:
        labels["instance"] = instance
    return labels

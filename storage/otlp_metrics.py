"""Reading OTLP metric data points (``metric_points``) for the Prometheus API.

Rows come back by Prometheus name (``prom_name``; histograms and summaries by their base name),
oldest first, reduced in ClickHouse to one per series and time bucket (a retried export is stored
once: readers take one row per ``point_id``). The Prometheus API (query_api.otlp_series) turns
them into series.
"""

from __future__ import annotations

from typing import Any

from storage.api import Backend, Row

__all__ = ["HISTOGRAM_KINDS", "OtlpMetricsReader", "prometheus_type"]

HISTOGRAM_KINDS = ("histogram", "exponential_histogram", "summary")
SUFFIXES = ("_bucket", "_count", "_sum")


def prometheus_type(kind: str, monotonic: bool) -> str:
    """The Prometheus type of an OTLP metric kind: a sum that only goes up is a counter."""
    if kind == "sum":
        return "counter" if monotonic else "gauge"
    return "histogram" if kind == "exponential_histogram" else kind


class OtlpMetricsReader:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    async def resolve(self, project: str, sample_name: str) -> tuple[str, str, str] | None:
        """(stored name, kind, suffix) of a Prometheus sample name, or None if no point has it.
        ``suffix`` is _bucket, _count or _sum for histograms and summaries, else ''."""
        candidates = [(sample_name, "")]
        candidates += [(sample_name[: -len(s)], s) for s in SUFFIXES if sample_name.endswith(s)]
        rows = await self._backend.query(
            "SELECT prom_name, any(kind) AS kind FROM metric_points "
            "WHERE project_id = {project:String} AND prom_name IN {names:Array(String)} GROUP BY prom_name",
            {"project": project, "names": [c[0] for c in candidates]},
        )
        kinds = {r["prom_name"]: r["kind"] for r in rows}
        for name, suffix in candidates:
            kind = kinds.get(name)
            if kind is None:
                continue
            plain = suffix == "" and kind in ("gauge", "sum", "summary")  # summaries: their quantiles
            buckets = suffix == "_bucket" and kind in ("histogram", "exponential_histogram")
            totals = suffix in ("_count", "_sum") and kind in HISTOGRAM_KINDS
            if plain or buckets or totals:
                return name, kind, suffix
        return None

    async def points(self, project: str, prom_name: str, start: int, end: int, bucket_s: int) -> list[Row]:
        """The points of one metric in [start, end) (epoch ns), reduced to one per series, segment
        and bucket of ``bucket_s`` seconds from ``start``, oldest first: the last point of a
        cumulative series or gauge (its changes add up to the last one), the sum of a delta
        series' points. A segment is a cumulative series' run from one start time (a restart
        begins another). ``bucket`` is the bucket's number; ``first_*`` are the values of the
        bucket's first point (what a counter had when it was first seen); each point is counted once."""
        return await self._backend.query(
            """SELECT labels, temporality, any(kind) AS kind, any(monotonic) AS monotonic, segment, bucket,
       max(p_time) AS time_ns, any(p_start) AS start_ns,
       if(temporality = 'delta', sum(p_value), argMax(p_value, p_time)) AS value,
       if(temporality = 'delta', sum(p_count), argMax(p_count, p_time)) AS count,
       if(temporality = 'delta', sum(p_sum), argMax(p_sum, p_time)) AS sum,
       argMax(p_bounds, p_time) AS bounds,
       if(temporality = 'delta', sumForEach(p_buckets), argMax(p_buckets, p_time)) AS bucket_counts,
       argMax(p_quantiles, p_time) AS quantiles, argMax(p_qvalues, p_time) AS quantile_values,
       argMin(p_value, p_time) AS first_value, argMin(p_count, p_time) AS first_count,
       argMin(p_sum, p_time) AS first_sum, argMin(p_buckets, p_time) AS first_bucket_counts
FROM (
    SELECT labels, temporality, kind, monotonic, toUnixTimestamp64Nano(time) AS p_time,
           toUnixTimestamp64Nano(start_time) AS p_start,
           -- Deltas of one bucket add up whatever their start; a delta histogram's bounds part them.
           if(temporality = 'delta', 0, p_start) AS segment, if(temporality = 'delta', bounds, []) AS delta_bounds,
           intDiv(intDiv(p_time, 1000000000) - intDiv({start:Int64}, 1000000000), {bucket:UInt32}) AS bucket,
           value AS p_value, count AS p_count, sum AS p_sum, bounds AS p_bounds, bucket_counts AS p_buckets,
           quantiles AS p_quantiles, quantile_values AS p_qvalues
    FROM metric_points
    WHERE project_id = {project:String} AND prom_name = {name:String}
      AND time >= fromUnixTimestamp64Nano({start:Int64}, 'UTC') AND time < fromUnixTimestamp64Nano({end:Int64}, 'UTC')
    LIMIT 1 BY point_id)
GROUP BY labels, temporality, segment, delta_bounds, bucket
ORDER BY time_ns""",
            {"project": project, "name": prom_name, "start": start, "end": end, "bucket": bucket_s},
        )

    async def before(self, project: str, prom_name: str, start: int, lookback: int, totals: bool) -> list[Row]:
        """Per series, what came before ``start``: the last point of cumulative series and gauges
        in the ``lookback`` (ns) before it (older ones are stale, as in Prometheus, and not read),
        and when ``totals``, the sums of delta series (their running totals, from their first
        point), as rows shaped like points."""
        params: dict[str, Any] = {"project": project, "name": prom_name, "start": start, "from": start - lookback}
        # Aggregates are named a_*, then renamed: an alias equal to a column would shadow it.
        rename = (
            "SELECT kind, temporality, monotonic, labels, a_start AS start_ns, a_value AS value, a_count AS count, "
            "a_sum AS sum, "
            "a_bounds AS bounds, a_buckets AS bucket_counts, a_quantiles AS quantiles, a_qvalues AS quantile_values "
        )
        last = await self._backend.query(
            rename
            + """FROM (
    SELECT any(kind) AS kind, temporality, any(monotonic) AS monotonic, labels,
           toUnixTimestamp64Nano(argMax(start_time, time)) AS a_start,
           argMax(value, time) AS a_value, argMax(count, time) AS a_count, argMax(sum, time) AS a_sum,
           argMax(bounds, time) AS a_bounds, argMax(bucket_counts, time) AS a_buckets,
           argMax(quantiles, time) AS a_quantiles, argMax(quantile_values, time) AS a_qvalues
    FROM metric_points
    WHERE project_id = {project:String} AND prom_name = {name:String} AND temporality != 'delta'
      AND time >= fromUnixTimestamp64Nano({from:Int64}, 'UTC') AND time < fromUnixTimestamp64Nano({start:Int64}, 'UTC')
    GROUP BY labels, temporality)""",
            params,
        )
        if not totals:
            return last
        deltas = await self._backend.query(
            rename
            + """FROM (
    SELECT any(kind) AS kind, temporality, any(monotonic) AS monotonic, labels,
           toInt64(0) AS a_start, sum(value) AS a_value, sum(count) AS a_count, sum(sum) AS a_sum, bounds AS a_bounds,
           sumForEach(bucket_counts) AS a_buckets, [] AS a_quantiles, [] AS a_qvalues
    FROM (SELECT * FROM metric_points
          WHERE project_id = {project:String} AND prom_name = {name:String} AND temporality = 'delta'
            AND time < fromUnixTimestamp64Nano({start:Int64}, 'UTC')
          ORDER BY point_id LIMIT 1 BY point_id)
    GROUP BY labels, temporality, bounds)""",
            params,
        )
        return last + deltas

    async def catalog(self, project: str) -> list[Row]:
        """Every metric name with its kind, unit and description (for the metadata endpoint)."""
        return await self._backend.query(
            "SELECT prom_name, any(kind) AS kind, any(monotonic) AS monotonic, any(unit) AS unit, "
            "any(description) AS description FROM metric_points WHERE project_id = {project:String} "
            "GROUP BY prom_name ORDER BY prom_name",
            {"project": project},
        )

    async def overview(self, project: str, start: int, end: int, limit: int = 1000) -> list[Row]:
        """Each metric with a point in [start, end) (epoch ns): its kind, unit, description, label
        names, services, number of series and last point, by Prometheus name (the metrics page)."""
        return await self._backend.query(
            """SELECT prom_name, any(name) AS otel_name, any(kind) AS kind, any(temporality) AS temporality,
       max(monotonic) AS monotonic, any(unit) AS unit, any(description) AS description,
       arraySort(groupUniqArrayArray(mapKeys(labels))) AS label_names,
       arraySort(groupUniqArray(10)(toString(service_name))) AS services,
       uniqExact(labels) AS series, toUnixTimestamp64Nano(max(time)) AS last_ns
FROM metric_points
WHERE project_id = {project:String}
  AND time >= fromUnixTimestamp64Nano({start:Int64}, 'UTC') AND time < fromUnixTimestamp64Nano({end:Int64}, 'UTC')
GROUP BY prom_name ORDER BY prom_name LIMIT {limit:UInt32}""",
            {"project": project, "start": start, "end": end, "limit": limit},
        )

    async def label_values(self, project: str, label: str, start: int, end: int) -> list[str]:
        """Values of one label among the points in [start, end) (epoch ns)."""
        rows = await self._backend.query(
            """SELECT DISTINCT labels[{label:String}] AS v FROM metric_points
WHERE project_id = {project:String} AND mapContains(labels, {label:String})
  AND time >= fromUnixTimestamp64Nano({start:Int64}, 'UTC') AND time < fromUnixTimestamp64Nano({end:Int64}, 'UTC')
ORDER BY v LIMIT 10000""",
            {"project": project, "label": label, "start": start, "end": end},
        )
        return [r["v"] for r in rows]

    async def label_names(self, project: str) -> list[str]:
        rows = await self._backend.query(
            "SELECT DISTINCT arrayJoin(mapKeys(labels)) AS k FROM metric_points WHERE project_id = {project:String} "
            "ORDER BY k LIMIT 10000",
            {"project": project},
        )
        return [r["k"] for r in rows]

"""Tracehouse's tables and views: the trace model. See docs/adr/001-storage-model.md for why.

``spans`` holds one wide row per span or observation (OTel spans and Langfuse
observations alike). Two materialized views keep ``trace_index`` (trace id -> time
bounds, so trace-by-id needs no time range) and ``traces`` (the per-trace summary the
list and dashboards read) up to date on every insert.
"""

from __future__ import annotations

import pyarrow as pa

from storage.schema import Column, Table, View

__all__ = [
    "ALL_TABLES",
    "AUDIT_LOG",
    "LOGS",
    "METRIC_POINTS",
    "SPANS",
    "SPAN_ARRAY_KEYS_INDEX",
    "SPLIT_TRACES",
    "TABLES",
    "TRACES",
    "TRACES_MV",
    "TRACE_INDEX",
    "array_keys",
]

STR = pa.string()
TS = pa.timestamp("ns", tz="UTC")
MS = pa.timestamp("ms", tz="UTC")
STR_MAP = pa.map_(pa.string(), pa.string())
DECIMAL = pa.decimal128(18, 12)

DT = "DateTime64(9, 'UTC')"
LC = "LowCardinality(String)"
STR_MAP_CH = "Map(LowCardinality(String), String)"
TYPE_MAP_CH = "Map(LowCardinality(String), LowCardinality(String))"
COST = "Decimal(18, 12)"
COST_SUM = "Decimal(38, 12)"

# Data tables are fsynced on insert: an acknowledged insert survives power loss, not just a
# process crash. Group commit keeps the number of inserts (and so fsyncs) small.
DURABLE = ("fsync_after_insert = 1", "fsync_part_directory = 1")
# Group-commit inserts make parts of tens of MB: written compact (one file, a third faster to
# insert, measured), they become wide parts when merges make them large.
COMPACT_INSERTS = ("min_bytes_for_wide_part = 134217728",)
# A horizontal merge holds a compression buffer per column of every part it reads, and
# a span has some 60 columns: with ClickHouse's 1 MB blocks a merge of eight parts
# took ~500 MB. 256 KB blocks halve that, for ~15% more disk on our very repetitive
# benchmark text (less on real prompts) and no measurable CPU (docs/benchmarks.md).
SMALL_BLOCKS = ("max_compress_block_size = 262144", "min_compress_block_size = 65536")
# Even so, a horizontal merge holds every column of every part it reads at once: merging eight of
# the write-ahead log's inserts took 130-190 MB, the server's peak under load. A vertical merge
# (the key columns, then the others one at a time) took ~30 MB for the same parts. ClickHouse
# turns to it from 131,072 rows; here from any size, wherever the merged part is wide (a compact
# one is always merged horizontally). Measured in docs/benchmarks.md.
VERTICAL_MERGES = (
    "vertical_merge_algorithm_min_rows_to_activate = 1",
    "vertical_merge_algorithm_min_bytes_to_activate = 0",
)
# A granule is what a read decompresses to reach one row. Spans carry kilobytes of input and output,
# so ClickHouse's 10 MiB granules cost a trace read 59 ms at 112k spans; 1 MiB granules cost 38 ms,
# halve a page's previews, and leave scans and disk as they were (measured, docs/benchmarks.md).
# ClickHouse cannot change it on an existing table: stores made before keep their granules.
SMALL_GRANULES = ("index_granularity_bytes = 1048576",)

# Columns of a span row that the writer fills (the version and the collapsing sign), never a
# decoder: declared here, once, for the writer, the readers and both decoders.
WRITER_FILLED = ("ingested_at", "sign")


def array_keys(types: str) -> str:
    """SQL: the keys of a row's array attributes, from its type map (``span_attribute_types``)."""
    return f"mapKeys(mapFilter((k, v) -> v = 'array', {types}))"


# Which of a span's attributes are arrays: a condition on an attribute's elements
# (storage.traceql_sql) skips the granules where it is no array, as one on its value does.
SPAN_ARRAY_KEYS_INDEX = (
    f"idx_span_attr_arrays {array_keys('span_attribute_types')} TYPE bloom_filter(0.01) GRANULARITY 1"
)

SPANS = Table(
    name="spans",
    columns=[
        Column("project_id", LC, STR),
        Column("trace_id", "String", STR, codec="ZSTD(1)"),
        Column("span_id", "String", STR, codec="ZSTD(1)"),
        Column("parent_span_id", "String", STR, codec="ZSTD(1)"),
        Column("trace_state", "String", STR, codec="ZSTD(1)"),
        Column("name", LC, STR),
        Column("kind", LC, STR),  # UNSPECIFIED INTERNAL SERVER CLIENT PRODUCER CONSUMER
        Column("start_time", DT, TS, codec="Delta, ZSTD(1)"),
        Column("end_time", DT, TS, codec="Delta, ZSTD(1)"),
        Column("duration_ns", "UInt64", pa.uint64(), codec="T64, ZSTD(1)"),
        Column("status_code", LC, STR),  # UNSET OK ERROR
        Column("status_message", "String", STR, codec="ZSTD(1)"),
        Column("flags", "UInt32", pa.uint32()),
        Column("service_name", LC, STR),
        Column("scope_name", LC, STR),
        Column("scope_version", LC, STR),
        # Attribute values as strings; the parallel *_types maps name the OTLP type of
        # every value that is not a string (int, double, bool, array, kvlist, bytes), so
        # that each value can be given back with its type. Arrays and kvlists are OTLP JSON.
        Column("resource_attributes", STR_MAP_CH, STR_MAP, codec="ZSTD(1)"),
        Column("resource_attribute_types", TYPE_MAP_CH, STR_MAP, codec="ZSTD(1)"),
        Column("scope_attributes", STR_MAP_CH, STR_MAP, codec="ZSTD(1)"),
        Column("scope_attribute_types", TYPE_MAP_CH, STR_MAP, codec="ZSTD(1)"),
        Column("span_attributes", STR_MAP_CH, STR_MAP, codec="ZSTD(1)"),
        Column("span_attribute_types", TYPE_MAP_CH, STR_MAP, codec="ZSTD(1)"),
        Column("dropped_attributes_count", "UInt32", pa.uint32()),
        Column("dropped_events_count", "UInt32", pa.uint32()),
        Column("dropped_links_count", "UInt32", pa.uint32()),
        # Events and links as parallel arrays; their attributes as OTLP JSON key-value lists.
        Column("event_times", f"Array({DT})", pa.list_(TS), codec="ZSTD(1)"),
        Column("event_names", f"Array({LC})", pa.list_(STR), codec="ZSTD(1)"),
        Column("event_attributes", "Array(String)", pa.list_(STR), codec="ZSTD(1)"),
        Column("link_trace_ids", "Array(String)", pa.list_(STR), codec="ZSTD(1)"),
        Column("link_span_ids", "Array(String)", pa.list_(STR), codec="ZSTD(1)"),
        Column("link_trace_states", "Array(String)", pa.list_(STR), codec="ZSTD(1)"),
        Column("link_attributes", "Array(String)", pa.list_(STR), codec="ZSTD(1)"),
        # Typed GenAI columns, filled by the mapping rules.
        Column("observation_type", LC, STR),  # GENERATION SPAN EVENT AGENT TOOL CHAIN ...
        Column("operation", LC, STR),
        Column("provider", LC, STR),
        Column("request_model", LC, STR),
        Column("response_model", LC, STR),
        Column("model", LC, STR),  # the effective model: response, else request
        Column("input_tokens", "UInt64", pa.uint64(), codec="T64, ZSTD(1)"),
        Column("output_tokens", "UInt64", pa.uint64(), codec="T64, ZSTD(1)"),
        Column("total_tokens", "UInt64", pa.uint64(), codec="T64, ZSTD(1)"),
        Column("cache_read_tokens", "UInt64", pa.uint64(), codec="T64, ZSTD(1)"),
        Column("cache_write_tokens", "UInt64", pa.uint64(), codec="T64, ZSTD(1)"),
        Column("reasoning_tokens", "UInt64", pa.uint64(), codec="T64, ZSTD(1)"),
        Column("usage_details", "Map(LowCardinality(String), UInt64)", pa.map_(STR, pa.uint64())),
        Column("cost_details", f"Map(LowCardinality(String), {COST})", pa.map_(STR, DECIMAL)),
        Column("total_cost", COST, DECIMAL),
        # ZSTD(1): level 3 compresses a few percent better but makes every merge rewrite cost more CPU.
        Column("input", "String", STR, codec="ZSTD(1)"),
        Column("output", "String", STR, codec="ZSTD(1)"),
        Column("model_parameters", "String", STR, codec="ZSTD(1)"),
        Column("metadata", STR_MAP_CH, STR_MAP, codec="ZSTD(1)"),
        Column("session_id", "String", STR, codec="ZSTD(1)"),
        Column("user_id", "String", STR, codec="ZSTD(1)"),
        Column("tags", f"Array({LC})", pa.list_(STR)),
        Column("environment", LC, STR),
        Column("release", LC, STR),
        Column("version", LC, STR),
        Column("level", LC, STR),  # DEBUG DEFAULT WARNING ERROR
        Column("completion_start_time", f"Nullable({DT})", TS),
        Column("prompt_name", LC, STR),
        Column("prompt_version", LC, STR),
        Column("trace_name", "String", STR, codec="ZSTD(1)"),  # trace-level name, if one was given
        Column("source", LC, STR),  # otlp | langfuse
        Column("retention_days", "UInt16", pa.uint16()),  # 0 = keep forever
        # +1 for a row; -1 for a row that cancels an earlier version of the same span when a
        # Langfuse update replaces it. Aggregates weight by sign, so they are right before merges
        # collapse the versions; single-span reads take the newest row with sign = 1.
        Column("sign", "Int8", pa.int8(), default="1"),
        Column("ingested_at", "DateTime64(6, 'UTC')", pa.timestamp("us", tz="UTC"), default="now64(6)"),
    ],
    engine="ReplacingMergeTree",
    engine_args=("ingested_at",),
    partition_by="toDate(start_time)",
    order_by="(project_id, toStartOfHour(start_time), trace_id, span_id)",
    ttl="toDateTime(start_time) + toIntervalDay(retention_days) WHERE retention_days > 0",
    indexes=[
        "idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1",
        "idx_span_id span_id TYPE bloom_filter(0.001) GRANULARITY 1",
        "idx_session_id session_id TYPE bloom_filter(0.01) GRANULARITY 1",
        "idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 1",
        "idx_duration duration_ns TYPE minmax GRANULARITY 1",
        "idx_span_attr_keys mapKeys(span_attributes) TYPE bloom_filter(0.01) GRANULARITY 1",
        "idx_span_attr_values mapValues(span_attributes) TYPE bloom_filter(0.01) GRANULARITY 1",
        SPAN_ARRAY_KEYS_INDEX,
    ],
    settings=DURABLE + COMPACT_INSERTS + SMALL_BLOCKS + VERTICAL_MERGES + SMALL_GRANULES,
    shard_key="cityHash64(trace_id)",
)

TRACE_INDEX = Table(
    name="trace_index",
    columns=[
        Column("project_id", LC),
        Column("trace_id", "String"),
        Column("start_time", f"SimpleAggregateFunction(min, {DT})"),
        Column("end_time", f"SimpleAggregateFunction(max, {DT})"),
        Column("retention_days", "SimpleAggregateFunction(max, UInt16)"),
        # The trace's version (storage.trace_cache): every insert of its spans adds its rows to
        # ``writes`` and may raise ``last_write``, so a reader sees that the trace changed.
        Column("writes", "SimpleAggregateFunction(sum, UInt64)"),
        Column("last_write", "SimpleAggregateFunction(max, DateTime64(6, 'UTC'))"),
    ],
    engine="AggregatingMergeTree",
    order_by="(project_id, trace_id)",
    ttl="toDateTime(end_time) + toIntervalDay(retention_days) WHERE retention_days > 0",
    settings=DURABLE,
    shard_key="cityHash64(trace_id)",
)

# Named anew when it began to fill the trace's version (migration 21 replaced trace_index_mv).
TRACE_INDEX_MV = View(
    name="trace_index_versions_mv",
    target="trace_index",
    reads=("spans",),
    select="""SELECT project_id, trace_id,
    min(start_time) AS start_time, max(end_time) AS end_time, max(retention_days) AS retention_days,
    toUInt64(count()) AS writes, max(ingested_at) AS last_write
FROM {spans}
GROUP BY project_id, trace_id""",
)

# (is not a root, start, newest first): the root span sorts first, and of its versions (a Langfuse
# update writes a new one, and a cancel row for the old) the newest, so a trace-create that fills
# the name of a trace first made from its observations names it. Migration 3 added the third key.
# Traces whose spans start on more than one day (a root before midnight and a child after it, a
# Langfuse trace entity days from its observations), with the first and last of those days. The
# summary has a row per day for them; every other trace lives on one day. Readers consult this
# small table, not the trace index, to read such a trace whole (docs/adr/005). The span writer
# records them (storage.writer.split_traces); last_day may run past the last start day (it comes
# from the trace's end), which only widens what readers scan.
SPLIT_TRACES = Table(
    name="split_traces",
    columns=[
        Column("project_id", LC, STR),
        Column("trace_id", "String", STR),
        # Date32: spans may start as late as 2262 (DateTime64(9)); Date ends in 2149.
        Column("first_day", "SimpleAggregateFunction(min, Date32)", pa.date32()),
        Column("last_day", "SimpleAggregateFunction(max, Date32)", pa.date32()),
        Column("retention_days", "SimpleAggregateFunction(max, UInt16)", pa.uint16()),
    ],
    engine="AggregatingMergeTree",
    order_by="(project_id, trace_id)",
    ttl="toDateTime(last_day) + toIntervalDay(retention_days + 1) WHERE retention_days > 0",
    settings=DURABLE,
    shard_key="cityHash64(trace_id)",
)

ROOT_ORDER = f"Tuple(UInt8, {DT}, Int64)"

TRACES = Table(
    name="traces",
    columns=[
        Column("project_id", LC),
        Column("day", "Date"),
        Column("trace_id", "String"),
        Column("start_time", f"SimpleAggregateFunction(min, {DT})"),
        Column("end_time", f"SimpleAggregateFunction(max, {DT})"),
        Column("name", f"AggregateFunction(argMin, String, {ROOT_ORDER})"),
        Column("service_name", f"AggregateFunction(argMin, String, {ROOT_ORDER})"),
        Column("services", "SimpleAggregateFunction(groupUniqArrayArray, Array(String))"),
        Column("models", "SimpleAggregateFunction(groupUniqArrayArray, Array(String))"),
        Column("tags", "SimpleAggregateFunction(groupUniqArrayArray, Array(String))"),
        Column("user_id", "SimpleAggregateFunction(max, String)"),
        Column("session_id", "SimpleAggregateFunction(max, String)"),
        Column("environment", "SimpleAggregateFunction(max, String)"),
        Column("release", "SimpleAggregateFunction(max, String)"),
        # Int64: cancel rows (sign -1) make partial sums dip below the final value.
        Column("span_count", "SimpleAggregateFunction(sum, Int64)"),
        Column("error_count", "SimpleAggregateFunction(sum, Int64)"),
        Column("generation_count", "SimpleAggregateFunction(sum, Int64)"),
        Column("input_tokens", "SimpleAggregateFunction(sum, Int64)"),
        Column("output_tokens", "SimpleAggregateFunction(sum, Int64)"),
        Column("total_tokens", "SimpleAggregateFunction(sum, Int64)"),
        Column("cache_read_tokens", "SimpleAggregateFunction(sum, Int64)"),
        Column("reasoning_tokens", "SimpleAggregateFunction(sum, Int64)"),
        Column("total_cost", f"SimpleAggregateFunction(sum, {COST_SUM})"),
        Column("retention_days", "SimpleAggregateFunction(max, UInt16)"),
    ],
    engine="AggregatingMergeTree",
    partition_by="toYYYYMM(day)",
    order_by="(project_id, day, trace_id)",
    ttl="toDateTime(day) + toIntervalDay(retention_days + 1) WHERE retention_days > 0",
    settings=DURABLE,
    shard_key="cityHash64(trace_id)",
)

_ROOT_KEY = "(toUInt8(s.parent_span_id != ''), s.start_time, -toUnixTimestamp64Micro(s.ingested_at))"

TRACES_MV = View(
    name="traces_mv",
    target="traces",
    reads=("spans",),
    select=f"""SELECT s.project_id, toDate(s.start_time) AS day, s.trace_id,
    min(s.start_time) AS start_time,
    max(s.end_time) AS end_time,
    argMinState(if(s.trace_name != '', s.trace_name, s.name), {_ROOT_KEY}) AS name,
    argMinState(toString(s.service_name), {_ROOT_KEY}) AS service_name,
    groupUniqArrayIf(toString(s.service_name), s.service_name != '') AS services,
    groupUniqArrayIf(toString(s.model), s.model != '') AS models,
    arrayMap(t -> toString(t), groupUniqArrayArray(s.tags)) AS tags,
    max(s.user_id) AS user_id,
    max(s.session_id) AS session_id,
    max(toString(s.environment)) AS environment,
    max(toString(s.release)) AS release,
    sum(s.sign * (s.observation_type != 'TRACE')) AS span_count,
    sum(s.sign * (s.status_code = 'ERROR' OR s.level = 'ERROR')) AS error_count,
    sum(s.sign * (s.observation_type = 'GENERATION')) AS generation_count,
    sum(s.sign * s.input_tokens) AS input_tokens,
    sum(s.sign * s.output_tokens) AS output_tokens,
    sum(s.sign * s.total_tokens) AS total_tokens,
    sum(s.sign * s.cache_read_tokens) AS cache_read_tokens,
    sum(s.sign * s.reasoning_tokens) AS reasoning_tokens,
    sum(s.sign * toDecimal128(s.total_cost, 12)) AS total_cost,
    max(s.retention_days) AS retention_days
FROM {{spans}} AS s
GROUP BY s.project_id, day, s.trace_id""",
)

SCORES = Table(
    name="scores",
    columns=[
        Column("project_id", LC, STR),
        Column("id", "String", STR),
        Column("timestamp", DT, TS),
        Column("trace_id", "String", STR),
        Column("observation_id", "String", STR),
        Column("session_id", "String", STR),
        Column("name", LC, STR),
        Column("value", "Float64", pa.float64()),
        Column("string_value", "String", STR),
        Column("data_type", LC, STR),  # NUMERIC BOOLEAN CATEGORICAL
        Column("source", LC, STR),  # API ANNOTATION EVAL
        Column("comment", "String", STR, codec="ZSTD(1)"),
        Column("metadata", STR_MAP_CH, STR_MAP),
        Column("environment", LC, STR),
        Column("retention_days", "UInt16", pa.uint16()),
        Column("ingested_at", "DateTime64(6, 'UTC')", pa.timestamp("us", tz="UTC"), default="now64(6)"),
        Column("is_deleted", "UInt8", pa.uint8(), default="0"),
    ],
    engine="ReplacingMergeTree",
    engine_args=("ingested_at", "is_deleted"),
    partition_by="toYYYYMM(timestamp)",
    order_by="(project_id, toDate(timestamp), name, id)",
    ttl="toDateTime(timestamp) + toIntervalDay(retention_days) WHERE retention_days > 0",
    indexes=[
        "idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1",
        "idx_session_id session_id TYPE bloom_filter(0.01) GRANULARITY 1",
    ],
    settings=DURABLE,
    shard_key="cityHash64(trace_id)",
)
# A score's text as every read gives it: a boolean's is "True" or "False", as Langfuse gives it
# (rows written before this was so say "true" and "false"); any other type's as stored. The
# columns are named by their table: reads alias their results with the same names.
SCORE_TEXT = "if(scores.data_type = 'BOOLEAN', if(scores.value = 1, 'True', 'False'), scores.string_value)"


# OTLP log records, beside the spans. GenAI events among them (a log record named
# gen_ai.client.inference.operation.details, gen_ai.user.message, gen_ai.choice ...) carry the
# messages of their span: the receiver normalizes them into genai_input / genai_output, and
# readers fill an empty span input or output from them. A retried export is stored once:
# record_id is a hash of the record, its resource and scope (and its rank among identical ones),
# and the ReplacingMergeTree key ends with it; readers take one row per record_id.
LOGS = Table(
    name="logs",
    columns=[
        Column("project_id", LC, STR),
        Column("timestamp", DT, TS, codec="Delta, ZSTD(1)"),
        Column("observed_timestamp", DT, TS, codec="Delta, ZSTD(1)"),
        Column("record_id", "String", STR, codec="ZSTD(1)"),
        Column("trace_id", "String", STR, codec="ZSTD(1)"),
        Column("span_id", "String", STR, codec="ZSTD(1)"),
        Column("flags", "UInt32", pa.uint32()),
        Column("severity_number", "UInt8", pa.uint8()),
        Column("severity_text", LC, STR),
        # The body as a string, with its AnyValue type as for attributes ('' for a string).
        Column("body", "String", STR, codec="ZSTD(1)"),
        Column("body_type", LC, STR),
        Column("event_name", LC, STR),
        Column("service_name", LC, STR),
        Column("scope_name", LC, STR),
        Column("scope_version", LC, STR),
        Column("resource_attributes", STR_MAP_CH, STR_MAP, codec="ZSTD(1)"),
        Column("resource_attribute_types", TYPE_MAP_CH, STR_MAP, codec="ZSTD(1)"),
        Column("scope_attributes", STR_MAP_CH, STR_MAP, codec="ZSTD(1)"),
        Column("scope_attribute_types", TYPE_MAP_CH, STR_MAP, codec="ZSTD(1)"),
        Column("log_attributes", STR_MAP_CH, STR_MAP, codec="ZSTD(1)"),
        Column("log_attribute_types", TYPE_MAP_CH, STR_MAP, codec="ZSTD(1)"),
        Column("dropped_attributes_count", "UInt32", pa.uint32()),
        Column("genai_input", "String", STR, codec="ZSTD(1)"),  # messages JSON (the spans' format)
        Column("genai_output", "String", STR, codec="ZSTD(1)"),
        Column("retention_days", "UInt16", pa.uint16()),
        Column("ingested_at", "DateTime64(6, 'UTC')", pa.timestamp("us", tz="UTC"), default="now64(6)"),
    ],
    engine="ReplacingMergeTree",
    engine_args=("ingested_at",),
    partition_by="toDate(timestamp)",
    order_by="(project_id, toStartOfHour(timestamp), record_id)",
    ttl="toDateTime(timestamp) + toIntervalDay(retention_days) WHERE retention_days > 0",
    indexes=[
        "idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1",
        "idx_body lower(body) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 1",
        "idx_severity severity_number TYPE minmax GRANULARITY 1",
    ],
    settings=DURABLE,
    shard_key="cityHash64(trace_id)",
)


# OTLP metric data points, one row each, with the Prometheus name and labels the OpenTelemetry
# Prometheus exporter would give them (otlp_receiver.prometheus_names), so the Prometheus API can
# select them by name. Histograms keep their buckets; the API expands them into _bucket/_sum/_count.
# point_id hashes the point, its metric, resource and scope: a retried export is stored once.
METRIC_POINTS = Table(
    name="metric_points",
    columns=[
        Column("project_id", LC, STR),
        Column("prom_name", LC, STR),  # the sample name (counters end in _total); histograms: the base
        Column("name", LC, STR),  # the OTel name
        Column("kind", LC, STR),  # gauge sum histogram exponential_histogram summary
        Column("temporality", LC, STR),  # cumulative delta (sums and histograms), else ''
        Column("monotonic", "UInt8", pa.uint8()),
        Column("unit", LC, STR),
        Column("description", "String", STR, codec="ZSTD(1)"),
        Column("time", DT, TS, codec="Delta, ZSTD(1)"),
        Column("start_time", DT, TS, codec="Delta, ZSTD(1)"),
        Column("point_id", "String", STR, codec="ZSTD(1)"),
        Column("labels", STR_MAP_CH, STR_MAP, codec="ZSTD(1)"),  # Prometheus labels: attributes, job, instance
        Column("attributes", STR_MAP_CH, STR_MAP, codec="ZSTD(1)"),
        Column("attribute_types", TYPE_MAP_CH, STR_MAP, codec="ZSTD(1)"),
        Column("resource_attributes", STR_MAP_CH, STR_MAP, codec="ZSTD(1)"),
        Column("resource_attribute_types", TYPE_MAP_CH, STR_MAP, codec="ZSTD(1)"),
        Column("service_name", LC, STR),
        Column("scope_name", LC, STR),
        Column("scope_version", LC, STR),
        Column("flags", "UInt32", pa.uint32()),
        Column("value", "Float64", pa.float64()),  # gauges and sums
        Column("count", "UInt64", pa.uint64()),  # histograms and summaries
        Column("sum", "Float64", pa.float64()),
        Column("min", "Float64", pa.float64()),
        Column("max", "Float64", pa.float64()),
        Column("bounds", "Array(Float64)", pa.list_(pa.float64())),  # histogram upper bounds
        Column("bucket_counts", "Array(UInt64)", pa.list_(pa.uint64())),  # per bucket, not cumulative
        Column("exp_scale", "Int32", pa.int32()),
        Column("exp_zero_count", "UInt64", pa.uint64()),
        Column("exp_positive_offset", "Int32", pa.int32()),
        Column("exp_positive", "Array(UInt64)", pa.list_(pa.uint64())),
        Column("exp_negative_offset", "Int32", pa.int32()),
        Column("exp_negative", "Array(UInt64)", pa.list_(pa.uint64())),
        Column("quantiles", "Array(Float64)", pa.list_(pa.float64())),  # summaries
        Column("quantile_values", "Array(Float64)", pa.list_(pa.float64())),
        Column("retention_days", "UInt16", pa.uint16()),
        Column("ingested_at", "DateTime64(6, 'UTC')", pa.timestamp("us", tz="UTC"), default="now64(6)"),
    ],
    engine="ReplacingMergeTree",
    engine_args=("ingested_at",),
    partition_by="toDate(time)",
    order_by="(project_id, prom_name, toStartOfHour(time), point_id)",
    ttl="toDateTime(time) + toIntervalDay(retention_days) WHERE retention_days > 0",
    settings=DURABLE,
    shard_key="cityHash64(point_id)",
)


def _record_table(name: str, key: str, columns: list[Column]) -> Table:
    """A small mutable table: every change inserts a new version of the row."""
    return Table(
        name=name,
        columns=[
            *columns,
            Column("created_at", "DateTime64(3, 'UTC')", MS),
            Column("updated_at", "DateTime64(6, 'UTC')", pa.timestamp("us", tz="UTC")),
            Column("is_deleted", "UInt8", pa.uint8(), default="0"),
        ],
        engine="ReplacingMergeTree",
        engine_args=("updated_at", "is_deleted"),
        order_by=key,
        settings=DURABLE,
    )


ORGANIZATIONS = _record_table("organizations", "id", [Column("id", "String", STR), Column("name", "String", STR)])

PROJECTS = _record_table(
    "projects",
    "id",
    [
        Column("id", "String", STR),
        Column("organization_id", "String", STR),
        Column("name", "String", STR),
        Column("retention_days", "UInt16", pa.uint16()),
    ],
)

API_KEYS = _record_table(
    "api_keys",
    "public_key",
    [
        Column("public_key", "String", STR),
        Column("secret_hash", "String", STR),  # sha256 of the secret; the secret is never stored
        Column("secret_hint", "String", STR),  # "sk-th-...abcd", for lists
        Column("project_id", "String", STR),
        Column("note", "String", STR),
        Column("revoked_at", "Nullable(DateTime64(3, 'UTC'))", MS),
    ],
)

# Organization-scoped key pairs (Langfuse's "organization API keys"): they administer the
# organization's projects, keys and members through the public API, and read or write no data.
ORGANIZATION_API_KEYS = _record_table(
    "organization_api_keys",
    "public_key",
    [
        Column("public_key", "String", STR),
        Column("secret_hash", "String", STR),  # sha256 of the secret; the secret is never stored
        Column("secret_hint", "String", STR),
        Column("organization_id", "String", STR),
        Column("note", "String", STR),
        Column("revoked_at", "Nullable(DateTime64(3, 'UTC'))", MS),
    ],
)

USERS = _record_table(
    "users",
    "id",
    [
        Column("id", "String", STR),
        Column("email", "String", STR),
        Column("name", "String", STR),
        Column("password_hash", "String", STR),
        Column("is_admin", "UInt8", pa.uint8()),
    ],
)


# Session tokens ended before they expire (their holder signed out), by the token's SHA-256:
# kept until the token would have expired, then dropped by the TTL.
ENDED_SESSIONS = Table(
    name="ended_sessions",
    columns=[
        Column("token_hash", "String", STR),
        Column("expires_at", "DateTime64(3, 'UTC')", MS),
    ],
    engine="ReplacingMergeTree",
    order_by="token_hash",
    ttl="toDateTime(expires_at)",
    settings=DURABLE,
)


def _membership_table(name: str, scope: str) -> Table:
    """A person's role in one organization or project (tracehouse.roles)."""
    return _record_table(
        name,
        f"({scope}, user_id)",
        [
            Column(scope, "String", STR),
            Column("user_id", "String", STR),
            Column("role", "LowCardinality(String)", STR),
        ],
    )


# A person's role in an organization, and a role in one project that overrides it there.
MEMBERSHIPS = _membership_table("memberships", "organization_id")
PROJECT_MEMBERSHIPS = _membership_table("project_memberships", "project_id")
# Roles that single sign-on's groups gave (query_api.provisioning): the role given and the one the
# person had before ('' for none), so that leaving the group gives the earlier one back.
GROUP_GRANTS = _record_table(
    "group_grants",
    "(user_id, scope, target_id)",
    [
        Column("user_id", "String", STR),
        Column("scope", "LowCardinality(String)", STR),  # organization | project
        Column("target_id", "String", STR),
        Column("role_given", "LowCardinality(String)", STR),
        Column("role_before", "LowCardinality(String)", STR),
    ],
)

# One-time links: an invitation to an organization, or a password reset an admin made. Only the
# token's sha256 is kept; the link is shown once, expires, and is spent by its first use.
INVITATIONS = _record_table(
    "invitations",
    "token_hash",
    [
        Column("token_hash", "String", STR),
        Column("id", "String", STR),
        Column("kind", "LowCardinality(String)", STR),  # invite | reset
        Column("organization_id", "String", STR),
        Column("email", "String", STR),
        Column("role", "LowCardinality(String)", STR),
        Column("project_id", "String", STR),  # with project_role: a role in one project
        Column("project_role", "LowCardinality(String)", STR),
        Column("created_by", "String", STR),
        Column("expires_at", "DateTime64(3, 'UTC')", MS),
        Column("used_at", "Nullable(DateTime64(3, 'UTC'))", MS),
    ],
)

# Files the Langfuse SDKs upload out of band (images, audio, documents in LLM calls): one row per
# distinct content in a project (the id derives from its SHA-256), the bytes in the media files.
MEDIA = _record_table(
    "media",
    "(project_id, id)",
    [
        Column("project_id", "String", STR),
        Column("id", "String", STR),
        Column("sha256_hash", "String", STR),  # base64, as the SDKs send it
        Column("content_type", "LowCardinality(String)", STR),
        Column("content_length", "UInt64", pa.uint64()),
        Column("uploaded_at", "Nullable(DateTime64(3, 'UTC'))", MS),
        Column("upload_http_status", "UInt16", pa.uint16()),
        Column("upload_http_error", "String", STR),
    ],
)

# Prompt versions (Langfuse's prompt management): one row per (project, name, version); labels
# move between versions by writing new row versions, tags are written to every version.
PROMPTS = _record_table(
    "prompts",
    "(project_id, name, version)",
    [
        Column("project_id", "String", STR),
        Column("name", "String", STR),
        Column("version", "UInt32", pa.uint32()),
        Column("id", "String", STR),
        Column("type", "LowCardinality(String)", STR),  # text | chat
        Column("prompt", "String", STR, codec="ZSTD(1)"),  # JSON: a string or a list of messages
        Column("config", "String", STR, codec="ZSTD(1)"),  # JSON
        Column("labels", "Array(String)", pa.list_(STR)),
        Column("tags", "Array(String)", pa.list_(STR)),
        Column("commit_message", "String", STR),
        Column("created_by", "String", STR),
    ],
)


def _claims_table(name: str) -> Table:
    """Claims of the next version number of a named, versioned thing: the first claim (by the
    server's clock, then id) wins, so that two concurrent creates never both write one version,
    whichever process they run in (storage.prompts.claim_number)."""
    return Table(
        name=name,
        columns=[
            Column("project_id", "String", STR),
            Column("name", "String", STR),
            Column("version", "UInt32", pa.uint32()),
            Column("claim_id", "String", STR),
            Column("claimed_at", "DateTime64(6, 'UTC')", pa.timestamp("us", tz="UTC"), default="now64(6)"),
        ],
        engine="MergeTree",
        order_by="(project_id, name, version, claimed_at, claim_id)",
        settings=DURABLE,
    )


PROMPT_CLAIMS = _claims_table("prompt_claims")

# Skill versions (Langfuse's skill management): one row per (project, name, version) like a
# prompt's; ``files`` is the version's manifest (JSON: path, content hash, type, length), the
# contents themselves stored once per project in ``skill_files``, by their SHA-256.
SKILLS = _record_table(
    "skills",
    "(project_id, name, version)",
    [
        Column("project_id", "String", STR),
        Column("name", "String", STR),
        Column("version", "UInt32", pa.uint32()),
        Column("id", "String", STR),
        Column("description", "String", STR),
        Column("frontmatter", "String", STR, codec="ZSTD(1)"),  # JSON: SKILL.md's YAML header
        Column("files", "String", STR, codec="ZSTD(1)"),  # JSON: the manifest
        Column("labels", "Array(String)", pa.list_(STR)),
        Column("tags", "Array(String)", pa.list_(STR)),
        Column("commit_message", "String", STR),
        Column("created_by", "String", STR),
    ],
)

# A skill file's text, once per project and content (base64 SHA-256, as the API names it).
SKILL_FILES = _record_table(
    "skill_files",
    "(project_id, sha256_hash)",
    [
        Column("project_id", "String", STR),
        Column("sha256_hash", "String", STR),
        Column("content", "String", STR, codec="ZSTD(3)"),
    ],
)

SKILL_CLAIMS = _claims_table("skill_claims")

# Datasets (Langfuse's datasets and experiments): a dataset per (project, name), its items as
# append-only versions (so that "the items as of a time" can be read), runs with ids derived from
# their names, and run items, several per dataset item when a run repeats it.
DATASETS = _record_table(
    "datasets",
    "(project_id, name)",
    [
        Column("project_id", "String", STR),
        Column("id", "String", STR),
        Column("name", "String", STR),
        Column("description", "String", STR),
        Column("metadata", "String", STR, codec="ZSTD(1)"),
        Column("input_schema", "String", STR, codec="ZSTD(1)"),
        Column("expected_output_schema", "String", STR, codec="ZSTD(1)"),
    ],
)

DATASET_ITEM_VERSIONS = Table(
    name="dataset_item_versions",
    columns=[
        Column("project_id", "String", STR),
        Column("dataset_id", "String", STR),
        Column("id", "String", STR),
        Column("status", LC, STR),  # ACTIVE | ARCHIVED
        Column("input", "String", STR, codec="ZSTD(1)"),
        Column("expected_output", "String", STR, codec="ZSTD(1)"),
        Column("metadata", "String", STR, codec="ZSTD(1)"),
        Column("source_trace_id", "String", STR),
        Column("source_observation_id", "String", STR),
        Column("created_at", "DateTime64(3, 'UTC')", MS),
        Column("updated_at", "DateTime64(6, 'UTC')", pa.timestamp("us", tz="UTC")),
        Column("is_deleted", "UInt8", pa.uint8(), default="0"),
    ],
    engine="MergeTree",
    order_by="(project_id, dataset_id, id, updated_at)",
    settings=DURABLE,
)

DATASET_RUNS = _record_table(
    "dataset_runs",
    "(project_id, dataset_id, id)",
    [
        Column("project_id", "String", STR),
        Column("dataset_id", "String", STR),
        Column("id", "String", STR),
        Column("name", "String", STR),
        Column("description", "String", STR),
        Column("metadata", "String", STR, codec="ZSTD(1)"),
    ],
)

# Experiments run by the server itself (the UI's "Run an experiment"): what to run and how far
# it got, so that a restart resumes a run instead of leaving it half done without a word.
EXPERIMENT_RUNS = _record_table(
    "experiment_runs",
    "(project_id, dataset_id, run_id)",
    [
        Column("project_id", "String", STR),
        Column("dataset_id", "String", STR),
        Column("run_id", "String", STR),
        Column("run_name", "String", STR),
        Column("spec", "String", STR),  # JSON: prompt name and version, provider, model, parameters
        Column("state", LC, STR),  # running | done | failed
        Column("total", "UInt32", pa.uint32()),
        Column("done", "UInt32", pa.uint32()),
        Column("failed", "UInt32", pa.uint32()),
        Column("errors", "String", STR),  # JSON: the last few item errors
    ],
)

DATASET_RUN_ITEMS = Table(
    name="dataset_run_items",
    columns=[
        Column("project_id", "String", STR),
        Column("run_id", "String", STR),
        Column("id", "String", STR),
        Column("dataset_item_id", "String", STR),
        Column("trace_id", "String", STR),
        Column("observation_id", "String", STR),
        Column("created_at", "DateTime64(3, 'UTC')", MS),
    ],
    engine="ReplacingMergeTree",
    order_by="(project_id, run_id, dataset_item_id, id)",
    settings=DURABLE,
)

# Model connections (LLM-as-a-judge, experiments from the UI): one per (project, provider name).
# The API key and extra header values are encrypted (credentials.secret_box); only a hint is clear.
LLM_CONNECTIONS = _record_table(
    "llm_connections",
    "(project_id, provider)",
    [
        Column("project_id", "String", STR),
        Column("id", "String", STR),
        Column("provider", "String", STR),
        Column("adapter", "LowCardinality(String)", STR),  # openai | anthropic
        Column("base_url", "String", STR),
        Column("secret_sealed", "String", STR),
        Column("secret_hint", "String", STR),
        Column("custom_models", "Array(String)", pa.list_(STR)),
        Column("with_default_models", "UInt8", pa.uint8()),
        Column("headers_sealed", "String", STR),
        Column("header_keys", "Array(String)", pa.list_(STR)),
    ],
)

# LLM-as-a-judge: evaluator templates a project made (the built-in ones live in code), rules that
# apply one to new data, and the durable job table the worker runs from (one job per rule and
# object: its id derives from both, so an object is never evaluated twice, even after a crash).
EVAL_TEMPLATES = _record_table(
    "eval_templates",
    "(project_id, id)",
    [
        Column("project_id", "String", STR),
        Column("id", "String", STR),
        Column("name", "String", STR),
        Column("prompt", "String", STR, codec="ZSTD(1)"),
        Column("output", "String", STR),  # JSON: {type, min, max, categories, reasoning}
        Column("provider", "String", STR),
        Column("model", "String", STR),
    ],
)

EVAL_RULES = _record_table(
    "eval_rules",
    "(project_id, id)",
    [
        Column("project_id", "String", STR),
        Column("id", "String", STR),
        Column("name", "String", STR),  # the score's name
        Column("template_id", "String", STR),
        Column("target", "LowCardinality(String)", STR),  # observation | trace
        Column("filter", "String", STR),  # JSON: {name, type, model, tags}
        Column("sampling", "Float64", pa.float64()),
        Column("delay_s", "UInt32", pa.uint32()),
        Column("mapping", "String", STR),  # JSON: {variable: {source, field, path}}
        Column("since_ns", "Int64", pa.int64()),  # data from then on is evaluated (0: existing too)
        Column("enabled", "UInt8", pa.uint8()),
        Column("provider", "String", STR),
        Column("model", "String", STR),
        Column("status_message", "String", STR),  # why the rule cannot run, said at once
        Column("trace_project", "String", STR),  # where the judge's own calls are traced; "" = not traced
    ],
)

# Each definition an evaluator (template) has had; the newest is the one rules run. A change of
# name or description rewrites the newest row; a change of what the judge is asked makes a new one.
EVAL_TEMPLATE_VERSIONS = _record_table(
    "eval_template_versions",
    "(project_id, template_id, version)",
    [
        Column("project_id", "String", STR),
        Column("template_id", "String", STR),
        Column("version", "UInt32", pa.uint32()),
        Column("description", "String", STR),
        Column("prompt", "String", STR, codec="ZSTD(1)"),
        Column("messages", "String", STR, codec="ZSTD(1)"),  # JSON [{role, content}]; "" = prompt alone
        Column("output", "String", STR),
        Column("provider", "String", STR),
        Column("model", "String", STR),
        Column("variable_mapping", "String", STR),  # JSON {variable: {field, path}}; "" = by name
        Column("created_by", "String", STR),
    ],
)

EVAL_JOBS = Table(
    name="eval_jobs",
    columns=[
        Column("project_id", "String", STR),
        Column("rule_id", "String", STR),
        Column("id", "String", STR),
        Column("trace_id", "String", STR),
        Column("observation_id", "String", STR),
        Column("status", "LowCardinality(String)", STR),  # pending | running | done | error
        Column("attempts", "UInt16", pa.uint16()),
        Column("last_error", "String", STR),
        Column("score_id", "String", STR),
        Column("score_value", "Float64", pa.float64()),
        Column("next_attempt_ns", "Int64", pa.int64()),
        Column("input_tokens", "UInt32", pa.uint32()),
        Column("output_tokens", "UInt32", pa.uint32()),
        Column("latency_ms", "UInt32", pa.uint32()),
        Column("created_at", "DateTime64(3, 'UTC')", MS),
        Column("updated_at", "DateTime64(6, 'UTC')", pa.timestamp("us", tz="UTC")),
    ],
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    order_by="(project_id, rule_id, id)",
    settings=DURABLE,
)

# Score configs (Langfuse's): the name, type and range or categories a score must keep, checked
# when a score names one; and annotation queues of objects people score by hand.
SCORE_CONFIGS = _record_table(
    "score_configs",
    "(project_id, id)",
    [
        Column("project_id", "String", STR),
        Column("id", "String", STR),
        Column("name", "String", STR),
        Column("data_type", "LowCardinality(String)", STR),
        Column("min_value", "Nullable(Float64)", pa.float64()),
        Column("max_value", "Nullable(Float64)", pa.float64()),
        Column("categories", "String", STR),  # JSON [{label, value}]
        Column("description", "String", STR),
        Column("is_archived", "UInt8", pa.uint8()),
    ],
)

ANNOTATION_QUEUES = _record_table(
    "annotation_queues",
    "(project_id, id)",
    [
        Column("project_id", "String", STR),
        Column("id", "String", STR),
        Column("name", "String", STR),
        Column("description", "String", STR),
        Column("score_config_ids", "Array(String)", pa.list_(STR)),
        Column("assignees", "Array(String)", pa.list_(STR)),  # user ids the queue is assigned to
    ],
)

ANNOTATION_ITEMS = _record_table(
    "annotation_items",
    "(project_id, queue_id, id)",
    [
        Column("project_id", "String", STR),
        Column("queue_id", "String", STR),
        Column("id", "String", STR),
        Column("object_id", "String", STR),
        Column("object_type", "LowCardinality(String)", STR),  # TRACE | OBSERVATION | SESSION
        Column("trace_id", "String", STR),
        Column("status", "LowCardinality(String)", STR),  # PENDING | COMPLETED
        Column("completed_by", "String", STR),
        Column("completed_at", "Nullable(DateTime64(3, 'UTC'))", MS),
    ],
)

# Comments people and SDKs leave on traces, observations, sessions and prompts (Langfuse's).
COMMENTS = _record_table(
    "comments",
    "(project_id, id)",
    [
        Column("project_id", "String", STR),
        Column("id", "String", STR),
        Column("object_type", "LowCardinality(String)", STR),  # TRACE | OBSERVATION | SESSION | PROMPT
        Column("object_id", "String", STR),
        Column("content", "String", STR, codec="ZSTD(1)"),
        Column("author_user_id", "String", STR),
    ],
)

# Traces shared by a public link from the UI (Langfuse's "share"): the newest row of a trace says
# whether it is public. A trace never shared here is public if its client said so (Langfuse's
# ``public`` field), which is read from the trace itself.
TRACE_SHARES = _record_table(
    "trace_shares",
    "(project_id, trace_id)",
    [
        Column("project_id", "String", STR),
        Column("trace_id", "String", STR),
        Column("public", "UInt8", pa.uint8()),
        Column("set_by", "String", STR),  # the user who shared or unshared it
    ],
)

# A person's own settings, kept apart from their account row (which password changes rewrite).
USER_PREFERENCES = _record_table(
    "user_preferences",
    "user_id",
    [
        Column("user_id", "String", STR),
        Column("locale", "LowCardinality(String)", STR),  # "" (the browser's choice), "en", "zh-CN"
    ],
)

MODEL_PRICES = _record_table(
    "model_prices",
    "(project_id, id)",
    [
        Column("project_id", "String", STR),
        Column("id", "String", STR),
        Column("model_name", "String", STR),
        Column("match_pattern", "String", STR),
        # USD per 1M units, keyed by usage type: input, output, cache_read, cache_write, reasoning...
        Column("prices", f"Map(LowCardinality(String), {COST})", pa.map_(STR, DECIMAL)),
        Column("start_date", "Nullable(DateTime64(3, 'UTC'))", MS),
    ],
)

# Which trace (observation, field) holds which media: deleted with the trace, and kept as long as
# the project's retention keeps traces. Media no trace holds any more are swept with their files.
TRACE_MEDIA = Table(
    name="trace_media",
    columns=[
        Column("project_id", LC, STR),
        Column("trace_id", "String", STR),
        Column("observation_id", "String", STR),
        Column("field", LC, STR),
        Column("media_id", "String", STR),
        Column("created_at", "DateTime64(3, 'UTC')", MS),
        Column("retention_days", "UInt16", pa.uint16()),
    ],
    engine="ReplacingMergeTree",
    engine_args=("created_at",),
    order_by="(project_id, trace_id, observation_id, field, media_id)",
    ttl="toDateTime(created_at) + toIntervalDay(retention_days) WHERE retention_days > 0",
    settings=DURABLE,
    shard_key="cityHash64(trace_id)",
)

# Which dataset items hold which uploaded files (langfuse 5.x uploads an item's media before the
# item exists). A deleted item or dataset leaves a tombstone here; the sweep then removes the
# files nothing holds.
DATASET_ITEM_MEDIA = _record_table(
    "dataset_item_media",
    "(project_id, dataset_id, dataset_item_id, field, media_id)",
    [
        Column("project_id", "String", STR),
        Column("dataset_id", "String", STR),
        Column("dataset_item_id", "String", STR),
        Column("field", "LowCardinality(String)", STR),
        Column("media_id", "String", STR),
    ],
)

# Langfuse ingestion event ids already applied: the SDKs re-send whole batches, and an old
# event applied again after a newer one would undo the newer one's fields.
LANGFUSE_EVENTS = Table(
    name="langfuse_events",
    columns=[
        Column("project_id", LC, STR),
        Column("event_id", "String", STR),
        Column("ingested_at", "DateTime64(3, 'UTC')", MS, default="now64(3)"),
    ],
    engine="ReplacingMergeTree",
    order_by="(project_id, event_id)",
    ttl="toDateTime(ingested_at) + toIntervalDay(30)",
    settings=DURABLE,
    shard_key="cityHash64(event_id)",
)

# Who changed what: one row per successful change made through the API (settings, keys, members,
# projects, prompts, datasets, rules, deletions...), for the project's and organization's admins.
# Rows are never updated; they outlive what they name (a deleted project's entries stay).
AUDIT_LOG = Table(
    name="audit_log",
    columns=[
        Column("organization_id", LC, STR),
        Column("project_id", LC, STR),  # "" for an organization's own changes
        Column("timestamp", "DateTime64(6, 'UTC')", pa.timestamp("us", tz="UTC")),
        Column("id", "String", STR),
        Column("actor_kind", LC, STR),  # user | api_key | organization_key | admin_token | local
        Column("actor_id", "String", STR),  # a user id or a public key: never a secret
        Column("actor_name", "String", STR),  # a person's email
        Column("method", LC, STR),
        Column("route", LC, STR),  # the route's template, e.g. /api/public/traces/{trace_id}
        Column("target", STR_MAP_CH, STR_MAP),  # the route's parameters and the query's ids
        Column("status", "UInt16", pa.uint16()),
    ],
    engine="MergeTree",
    partition_by="toYYYYMM(timestamp)",
    order_by="(organization_id, project_id, timestamp, id)",
    settings=DURABLE,
    shard_key="cityHash64(organization_id)",
)

SCHEMA_MIGRATIONS = Table(
    name="schema_migrations",
    columns=[
        Column("version", "UInt32"),
        Column("name", "String"),
        Column("applied_at", "DateTime64(3, 'UTC')", default="now64(3)"),
    ],
    engine="MergeTree",
    order_by="version",
)

ALL_TABLES = (
    SCHEMA_MIGRATIONS,
    SPANS,
    TRACE_INDEX,
    TRACES,
    SPLIT_TRACES,
    SCORES,
    LOGS,
    METRIC_POINTS,
    ORGANIZATIONS,
    PROJECTS,
    API_KEYS,
    USERS,
    MEMBERSHIPS,
    PROJECT_MEMBERSHIPS,
    GROUP_GRANTS,
    INVITATIONS,
    MEDIA,
    TRACE_MEDIA,
    PROMPTS,
    PROMPT_CLAIMS,
    DATASETS,
    DATASET_ITEM_VERSIONS,
    DATASET_RUNS,
    DATASET_RUN_ITEMS,
    LLM_CONNECTIONS,
    EVAL_TEMPLATES,
    EVAL_RULES,
    EVAL_JOBS,
    SCORE_CONFIGS,
    ANNOTATION_QUEUES,
    ANNOTATION_ITEMS,
    COMMENTS,
    USER_PREFERENCES,
    ORGANIZATION_API_KEYS,
    EVAL_TEMPLATE_VERSIONS,
    DATASET_ITEM_MEDIA,
    ENDED_SESSIONS,
    EXPERIMENT_RUNS,
    MODEL_PRICES,
    LANGFUSE_EVENTS,
    TRACE_SHARES,
    AUDIT_LOG,
    SKILLS,
    SKILL_FILES,
    SKILL_CLAIMS,
)
TABLES = {t.name: t for t in ALL_TABLES}
VIEWS = (TRACE_INDEX_MV, TRACES_MV)

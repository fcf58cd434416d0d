"""The ClickHouse schema: OTel tables compatible with the Go Collector's ClickHouse exporter, `llm_calls`,
and the staging tables through which ClickHouse flattens OTLP itself.

Each `otlp_*_in` table has `ENGINE = Null` and columns shaped like the OTLP request (nested
`Array(Tuple(...))`), matching `otlp.proto`; materialized views `ARRAY JOIN` resource -> scope -> item
into the `otel_*` tables, and the genai_metrics connector's `llmtap.llm_call` log records into `llm_calls`
(instead of `otel_logs`). Python never builds a row.

Migrations are numbered and recorded in `llmtap_schema_migrations`; each runs once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.attributes import session_attributes, user_attributes

from llmtap import semconv

# ---------------------------------------------------------------------------------------------
# Column types of the staging tables (protobuf messages as ClickHouse tuples)

_SCALAR_CASES = "'none' = 0, 'string_value' = 1, 'bool_value' = 2, 'int_value' = 3, 'double_value' = 4, " \
                "'bytes_value' = 7"
_SCALAR = (f"Tuple(value Enum8({_SCALAR_CASES}), string_value String, bool_value Bool, int_value Int64, "
           "double_value Float64, bytes_value String)")
_ANY = (f"Tuple(value Enum8({_SCALAR_CASES}, 'array_value' = 5, 'kvlist_value' = 6), string_value String, "
        f"bool_value Bool, int_value Int64, double_value Float64, array_value Tuple(values Array({_SCALAR})), "
        f"kvlist_value Tuple(values Array(Tuple(key String, value {_SCALAR}))), bytes_value String)")
_KV = f"Array(Tuple(key String, value {_ANY}))"
_RESOURCE = f"Tuple(attributes {_KV})"
_SCOPE = f"Tuple(name String, version String, attributes {_KV}, dropped_attributes_count UInt32)"

_SPAN = (
    "Tuple(trace_id String, span_id String, trace_state String, parent_span_id String, name String, kind Int32, "
    f"start_time_unix_nano UInt64, end_time_unix_nano UInt64, attributes {_KV}, "
    f"events Array(Tuple(time_unix_nano UInt64, name String, attributes {_KV})), "
    f"links Array(Tuple(trace_id String, span_id String, trace_state String, attributes {_KV})), "
    "status Tuple(message String, code Int32))"
)
_LOG = (
    f"Tuple(time_unix_nano UInt64, severity_number Int32, severity_text String, body {_ANY}, attributes {_KV}, "
    "flags UInt32, trace_id String, span_id String, observed_time_unix_nano UInt64, event_name String)"
)
_EXEMPLAR = (
    "Tuple(time_unix_nano UInt64, value Enum8('none' = 0, 'as_double' = 3, 'as_int' = 6), as_double Float64, "
    f"as_int Int64, span_id String, trace_id String, filtered_attributes {_KV})"
)
_NUMBER_POINT = (
    "Tuple(start_time_unix_nano UInt64, time_unix_nano UInt64, value Enum8('none' = 0, 'as_double' = 4, "
    f"'as_int' = 6), as_double Float64, as_int Int64, exemplars Array({_EXEMPLAR}), attributes {_KV}, flags UInt32)"
)
_HISTOGRAM_POINT = (
    "Tuple(start_time_unix_nano UInt64, time_unix_nano UInt64, count UInt64, sum Float64, "
    f"bucket_counts Array(UInt64), explicit_bounds Array(Float64), exemplars Array({_EXEMPLAR}), attributes {_KV}, "
    "flags UInt32, min Float64, max Float64)"
)
_BUCKETS = "Tuple(offset Int32, bucket_counts Array(UInt64))"
_EXP_POINT = (
    f"Tuple(attributes {_KV}, start_time_unix_nano UInt64, time_unix_nano UInt64, count UInt64, sum Float64, "
    f"scale Int32, zero_count UInt64, positive {_BUCKETS}, negative {_BUCKETS}, flags UInt32, "
    f"exemplars Array({_EXEMPLAR}), min Float64, max Float64)"
)
_SUMMARY_POINT = (
    "Tuple(start_time_unix_nano UInt64, time_unix_nano UInt64, count UInt64, sum Float64, "
    f"quantile_values Array(Tuple(quantile Float64, value Float64)), attributes {_KV}, flags UInt32)"
)
_METRIC = (
    "Tuple(name String, description String, unit String, "
    f"gauge Tuple(data_points Array({_NUMBER_POINT})), "
    f"sum Tuple(data_points Array({_NUMBER_POINT}), aggregation_temporality Int32, is_monotonic Bool), "
    f"histogram Tuple(data_points Array({_HISTOGRAM_POINT}), aggregation_temporality Int32), "
    f"exponential_histogram Tuple(data_points Array({_EXP_POINT}), aggregation_temporality Int32), "
    f"summary Tuple(data_points Array({_SUMMARY_POINT})))"
)

STAGING = {
    "traces": ("otlp_traces_in", "ExportTraceServiceRequest",
               f"resource_spans Array(Tuple(resource {_RESOURCE}, scope_spans Array(Tuple(scope {_SCOPE}, "
               f"spans Array({_SPAN}), schema_url String)), schema_url String))"),
    "logs": ("otlp_logs_in", "ExportLogsServiceRequest",
             f"resource_logs Array(Tuple(resource {_RESOURCE}, scope_logs Array(Tuple(scope {_SCOPE}, "
             f"log_records Array({_LOG}), schema_url String)), schema_url String))"),
    "metrics": ("otlp_metrics_in", "ExportMetricsServiceRequest",
                f"resource_metrics Array(Tuple(resource {_RESOURCE}, scope_metrics Array(Tuple(scope {_SCOPE}, "
                f"metrics Array({_METRIC}), schema_url String)), schema_url String))"),
}
"""signal -> (staging table, protobuf message name, columns)."""
CALLS_STAGING = "otlp_calls_in"
"""Schema versions 6 and 7: where a logs request of nothing but `llmtap.llm_call` records (the genai_metrics
connector's) was inserted, for a view of its own. Version 8 drops it: such requests become llm_calls rows in the
exporter (`wire.call_rows`) and go straight into the table."""
_CALL_VALUE = (f"Tuple(value Enum8({_SCALAR_CASES}, 'array_value' = 5, 'kvlist_value' = 6), string_value String, "
               "bool_value Bool, int_value Int64, double_value Float64, "
               "array_value Tuple(values Array(Tuple(string_value String))))")
CALLS_COLUMNS = (
    "resource_logs Array(Tuple(resource Tuple(attributes Array(Tuple(key String, value Tuple(string_value String)))), "
    "scope_logs Array(Tuple(log_records Array(Tuple(time_unix_nano UInt64, "
    f"attributes Array(Tuple(key String, value {_CALL_VALUE})), trace_id String, span_id String, "
    "observed_time_unix_nano UInt64, event_name String))))))"
)
"""Schema version 7's calls staging table (dropped by 8): only the fields of an OTLP logs request that the
llm_calls view reads.
ClickHouse's Protobuf input skips the others (scopes, bodies, severities, maps, bytes) instead of building
columns of them: 21 -> 15 us of chDB CPU per record."""

LLM_CALLS_COLUMNS = (
    "Timestamp", "TraceId", "SpanId", "ServiceName", "Provider", "Operation", "RequestModel", "ResponseModel",
    "InputTokens", "OutputTokens", "CacheReadTokens", "CacheWriteTokens", "ReasoningTokens", "CostUsd", "Duration",
    "TimeToFirstToken", "StatusCode", "ErrorType", "FinishReasons", "UserId", "TenantId", "SessionId", "PiiDetected",
    "InputPreview", "OutputPreview",
)
"""llm_calls' columns, in the order `wire.call_rows` writes a row."""
CALL_KEYS = (
    gen_ai.GEN_AI_PROVIDER_NAME, gen_ai.GEN_AI_OPERATION_NAME, gen_ai.GEN_AI_REQUEST_MODEL,
    gen_ai.GEN_AI_RESPONSE_MODEL, gen_ai.GEN_AI_USAGE_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS,
    gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, semconv.LLMTAP_COST_USD, semconv.LLMTAP_CALL_DURATION,
    gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, "otel.status_code", "error.type", gen_ai.GEN_AI_RESPONSE_FINISH_REASONS,
    user_attributes.USER_ID, semconv.LLMTAP_TENANT_ID, session_attributes.SESSION_ID, semconv.LLMTAP_PII_DETECTED,
    semconv.LLMTAP_PREVIEW_INPUT, semconv.LLMTAP_PREVIEW_OUTPUT,
)
"""The `llmtap.llm_call` record attribute each llm_calls column from Provider on reads, in column order, as
`wire.call_rows` takes them (the llm_calls view reads the same from logs requests that carry other records)."""

# ---------------------------------------------------------------------------------------------
# SQL that turns OTLP values into the Go exporter's strings (pcommon.Value.AsString)


def _scalar_str(x: str) -> str:
    return (f"multiIf({x}.value = 'string_value', {x}.string_value, {x}.value = 'int_value', toString({x}.int_value), "
            f"{x}.value = 'double_value', toString({x}.double_value), {x}.value = 'bool_value', "
            f"if({x}.bool_value, 'true', 'false'), {x}.value = 'bytes_value', base64Encode({x}.bytes_value), '')")


def _scalar_json(x: str) -> str:
    return (f"multiIf({x}.value = 'string_value', toJSONString({x}.string_value), {x}.value = 'int_value', "
            f"toString({x}.int_value), {x}.value = 'double_value', toString({x}.double_value), "
            f"{x}.value = 'bool_value', if({x}.bool_value, 'true', 'false'), {x}.value = 'bytes_value', "
            f"toJSONString(base64Encode({x}.bytes_value)), 'null')")


def any_str(x: str, depth: int = 0) -> str:
    """An AnyValue as a string: scalars as text, arrays and key-value lists as JSON."""
    e, k = f"e{depth}", f"k{depth}"
    return (f"multiIf({x}.value = 'array_value', concat('[', arrayStringConcat(arrayMap({e} -> {_scalar_json(e)}, "
            f"{x}.array_value.values), ','), ']'), {x}.value = 'kvlist_value', concat('{{', arrayStringConcat("
            f"arrayMap({k} -> concat(toJSONString({k}.key), ':', {_scalar_json(f'{k}.value')}), "
            f"{x}.kvlist_value.values), ','), '}}'), {_scalar_str(x)})")


def attr_map(x: str, depth: int = 0) -> str:
    """A KeyValue list as the Go exporter's `Map(LowCardinality(String), String)`. Every value is first read as
    a scalar; only the arrays and key-value lists (a few per span) then go through the JSON expression, which
    ClickHouse would otherwise evaluate for every value (its `multiIf` does not skip branches inside a lambda):
    a third of the traces view's cost. Those keys come last in the map, which is looked up by key."""
    a = f"a{depth}"
    nested = f"arrayFilter({a} -> {a}.value.value IN ('array_value', 'kvlist_value'), {x})"
    scalars = f"mapFromArrays(arrayMap({a} -> {a}.key, {x}), arrayMap({a} -> {_scalar_str(f'{a}.value')}, {x}))"
    structured = (f"mapFromArrays(arrayMap({a} -> {a}.key, {nested}), "
                  f"arrayMap({a} -> {any_str(f'{a}.value', depth)}, {nested}))")
    return f"CAST(mapUpdate({scalars}, {structured}), 'Map(LowCardinality(String), String)')"


def _ts(x: str) -> str:
    return f"fromUnixTimestamp64Nano(toInt64({x}))"


def _hex(x: str) -> str:
    return f"lower(hex({x}))"


# ---------------------------------------------------------------------------------------------
# Table DDL


@dataclass(frozen=True)
class SchemaOptions:
    database: str = "default"
    ttl_seconds: int = 0
    cluster: str | None = None
    storage_policy: str | None = None
    replicated: bool = True
    """On a cluster: Replicated engines for the tables on each node (False: shards without replicas)."""

    @property
    def on_cluster(self) -> str:
        return f" ON CLUSTER `{self.cluster}`" if self.cluster else ""

    def engine(self, kind: str = "MergeTree") -> str:
        return f"Replicated{kind}" if self.cluster and self.replicated else kind

    def ttl(self, column: str) -> str:
        return f"TTL toDateTime({column}) + toIntervalSecond({self.ttl_seconds})" if self.ttl_seconds else ""

    def settings(self) -> str:
        extra = f", storage_policy = '{self.storage_policy}'" if self.storage_policy else ""
        # Deduplication of retried inserts (insert_deduplication_token) needs a window on plain MergeTree.
        dedup = "" if self.cluster and self.replicated else ", non_replicated_deduplication_window = 1000"
        return f"SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1{dedup}{extra}"


def _attr_indexes(*columns: tuple[str, str]) -> str:
    lines = []
    for col, short in columns:
        lines.append(f"INDEX idx_{short}_key mapKeys({col}) TYPE bloom_filter(0.01) GRANULARITY 1")
        lines.append(f"INDEX idx_{short}_value mapValues({col}) TYPE bloom_filter(0.01) GRANULARITY 1")
    return ",\n    ".join(lines)


def _metric_common() -> str:
    return """ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),"""


_EXEMPLARS_COLUMN = """Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),"""

_METRIC_INDEXES = _attr_indexes(("ResourceAttributes", "res_attr"), ("ScopeAttributes", "scope_attr"),
                                ("Attributes", "attr"))


def _metric_table(o: SchemaOptions, name: str, columns: str) -> str:
    return f"""CREATE TABLE IF NOT EXISTS `{o.database}`.`{name}`{o.on_cluster} (
    {_metric_common()}
    {columns}
    {_METRIC_INDEXES}
) ENGINE = {o.engine()}
{o.ttl("TimeUnix")}
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
{o.settings()}"""


def tables(o: SchemaOptions) -> list[str]:
    db, c = o.database, o.on_cluster
    span_idx = _attr_indexes(("ResourceAttributes", "res_attr"), ("SpanAttributes", "span_attr"))
    log_idx = _attr_indexes(("ResourceAttributes", "res_attr"), ("ScopeAttributes", "scope_attr"),
                            ("LogAttributes", "log_attr"))
    ddl = [
        f"""CREATE TABLE IF NOT EXISTS `{db}`.otel_traces{c} (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    {span_idx},
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1,
    INDEX idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = {o.engine()}
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
{o.ttl("Timestamp")}
{o.settings()}""",
        f"""CREATE TABLE IF NOT EXISTS `{db}`.otel_traces_trace_id_ts{c} (
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
) ENGINE = {o.engine("AggregatingMergeTree")}
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)
{o.ttl("Start")}
{o.settings()}""",
        f"""CREATE TABLE IF NOT EXISTS `{db}`.otel_logs{c} (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TimestampTime DateTime DEFAULT toDateTime(Timestamp),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    TraceFlags UInt8,
    SeverityText LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber UInt8,
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(1)),
    ResourceSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    LogAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    EventName String CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    {log_idx},
    INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = {o.engine()}
PARTITION BY toDate(TimestampTime)
PRIMARY KEY (ServiceName, TimestampTime)
ORDER BY (ServiceName, TimestampTime, Timestamp)
{o.ttl("TimestampTime")}
{o.settings()}""",
        _metric_table(o, "otel_metrics_gauge", f"""Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    {_EXEMPLARS_COLUMN}"""),
        _metric_table(o, "otel_metrics_sum", f"""Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    {_EXEMPLARS_COLUMN}
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    IsMonotonic Boolean CODEC(Delta, ZSTD(1)),"""),
        _metric_table(o, "otel_metrics_histogram", f"""Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    BucketCounts Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds Array(Float64) CODEC(ZSTD(1)),
    {_EXEMPLARS_COLUMN}
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),"""),
        _metric_table(o, "otel_metrics_exponential_histogram", f"""Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    Scale Int32 CODEC(ZSTD(1)),
    ZeroCount UInt64 CODEC(ZSTD(1)),
    PositiveOffset Int32 CODEC(ZSTD(1)),
    PositiveBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    NegativeOffset Int32 CODEC(ZSTD(1)),
    NegativeBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    {_EXEMPLARS_COLUMN}
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),"""),
        _metric_table(o, "otel_metrics_summary", """Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    ValueAtQuantiles Nested(
        Quantile Float64,
        Value Float64
    ) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),"""),
        f"""CREATE TABLE IF NOT EXISTS `{db}`.llm_calls{c} (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Provider LowCardinality(String) CODEC(ZSTD(1)),
    Operation LowCardinality(String) CODEC(ZSTD(1)),
    RequestModel LowCardinality(String) CODEC(ZSTD(1)),
    ResponseModel LowCardinality(String) CODEC(ZSTD(1)),
    InputTokens UInt64 CODEC(T64, ZSTD(1)),
    OutputTokens UInt64 CODEC(T64, ZSTD(1)),
    CacheReadTokens UInt64 CODEC(T64, ZSTD(1)),
    CacheWriteTokens UInt64 CODEC(T64, ZSTD(1)),
    ReasoningTokens UInt64 CODEC(T64, ZSTD(1)),
    CostUsd Nullable(Float64) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    TimeToFirstToken Nullable(Float64) CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    ErrorType LowCardinality(String) CODEC(ZSTD(1)),
    FinishReasons Array(LowCardinality(String)) CODEC(ZSTD(1)),
    UserId String CODEC(ZSTD(1)),
    TenantId LowCardinality(String) CODEC(ZSTD(1)),
    SessionId String CODEC(ZSTD(1)),
    PiiDetected Bool,
    InputPreview String CODEC(ZSTD(3)),
    OutputPreview String CODEC(ZSTD(3)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_user UserId TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = {o.engine()}
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, RequestModel, toDateTime(Timestamp), Timestamp)
{o.ttl("Timestamp")}
{o.settings()}""",
    ]
    for table, _message, columns in STAGING.values():
        ddl.append(f"CREATE TABLE IF NOT EXISTS `{db}`.{table}{c} ({columns}) ENGINE = Null")
    ddl.append(_calls_staging(o))
    return ddl


def _calls_staging(o: SchemaOptions, columns: str = STAGING["logs"][2]) -> str:
    """Schema version 6 made it with every column of the logs staging table; version 7 with `CALLS_COLUMNS`."""
    return f"CREATE TABLE IF NOT EXISTS `{o.database}`.{CALLS_STAGING}{o.on_cluster} ({columns}) ENGINE = Null"


# ---------------------------------------------------------------------------------------------
# Materialized views: OTLP -> rows


def _views(o: SchemaOptions, local: str = "") -> list[str]:
    """The views of schema version 1; `local` suffixes the tables the trace id index view reads and writes
    (on a cluster it follows the rows to the node that stores them, version 3)."""
    db, c = o.database, o.on_cluster
    kind = "multiIf(s.kind = 1, 'Internal', s.kind = 2, 'Server', s.kind = 3, 'Client', s.kind = 4, 'Producer', " \
           "s.kind = 5, 'Consumer', 'Unspecified')"
    status = "multiIf(s.status.code = 1, 'Ok', s.status.code = 2, 'Error', 'Unset')"
    traces = f"""CREATE MATERIALIZED VIEW IF NOT EXISTS `{db}`.otel_traces_mv{c} TO `{db}`.otel_traces AS
SELECT
    {_ts("s.start_time_unix_nano")} AS Timestamp,
    {_hex("s.trace_id")} AS TraceId,
    {_hex("s.span_id")} AS SpanId,
    {_hex("s.parent_span_id")} AS ParentSpanId,
    s.trace_state AS TraceState,
    s.name AS SpanName,
    {kind} AS SpanKind,
    ResourceAttributes['service.name'] AS ServiceName,
    {attr_map("rs.resource.attributes")} AS ResourceAttributes,
    ss.scope.name AS ScopeName,
    ss.scope.version AS ScopeVersion,
    {attr_map("s.attributes")} AS SpanAttributes,
    if(s.end_time_unix_nano > s.start_time_unix_nano, s.end_time_unix_nano - s.start_time_unix_nano, 0) AS Duration,
    {status} AS StatusCode,
    s.status.message AS StatusMessage,
    arrayMap(ev -> {_ts("ev.time_unix_nano")}, s.events) AS `Events.Timestamp`,
    arrayMap(ev -> ev.name, s.events) AS `Events.Name`,
    arrayMap(ev -> {attr_map("ev.attributes", 1)}, s.events) AS `Events.Attributes`,
    arrayMap(ln -> {_hex("ln.trace_id")}, s.links) AS `Links.TraceId`,
    arrayMap(ln -> {_hex("ln.span_id")}, s.links) AS `Links.SpanId`,
    arrayMap(ln -> ln.trace_state, s.links) AS `Links.TraceState`,
    arrayMap(ln -> {attr_map("ln.attributes", 1)}, s.links) AS `Links.Attributes`
FROM `{db}`.otlp_traces_in
ARRAY JOIN resource_spans AS rs
ARRAY JOIN rs.scope_spans AS ss
ARRAY JOIN ss.spans AS s"""
    trace_id_ts = f"""CREATE MATERIALIZED VIEW IF NOT EXISTS `{db}`.otel_traces_trace_id_ts_mv{c}
TO `{db}`.otel_traces_trace_id_ts{local} AS
SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End
FROM `{db}`.otel_traces{local} WHERE TraceId != '' GROUP BY TraceId"""
    logs = _logs_view(o)

    def metric_view(table: str, kind: str, columns: str) -> str:
        return f"""CREATE MATERIALIZED VIEW IF NOT EXISTS `{db}`.{table}_mv{c} TO `{db}`.{table} AS
SELECT
    {attr_map("rm.resource.attributes")} AS ResourceAttributes,
    rm.schema_url AS ResourceSchemaUrl,
    sm.scope.name AS ScopeName,
    sm.scope.version AS ScopeVersion,
    {attr_map("sm.scope.attributes")} AS ScopeAttributes,
    sm.scope.dropped_attributes_count AS ScopeDroppedAttrCount,
    sm.schema_url AS ScopeSchemaUrl,
    ResourceAttributes['service.name'] AS ServiceName,
    m.name AS MetricName,
    m.description AS MetricDescription,
    m.unit AS MetricUnit,
    {attr_map("p.attributes")} AS Attributes,
    {_ts("p.start_time_unix_nano")} AS StartTimeUnix,
    {_ts("p.time_unix_nano")} AS TimeUnix,
    {columns}
FROM `{db}`.otlp_metrics_in
ARRAY JOIN resource_metrics AS rm
ARRAY JOIN rm.scope_metrics AS sm
ARRAY JOIN sm.metrics AS m
ARRAY JOIN m.{kind}.data_points AS p"""

    filtered = attr_map("x.filtered_attributes", 1)
    exemplars = f"""arrayMap(x -> {filtered}, p.exemplars) AS `Exemplars.FilteredAttributes`,
    arrayMap(x -> {_ts("x.time_unix_nano")}, p.exemplars) AS `Exemplars.TimeUnix`,
    arrayMap(x -> if(x.value = 'as_int', toFloat64(x.as_int), x.as_double), p.exemplars) AS `Exemplars.Value`,
    arrayMap(x -> {_hex("x.span_id")}, p.exemplars) AS `Exemplars.SpanId`,
    arrayMap(x -> {_hex("x.trace_id")}, p.exemplars) AS `Exemplars.TraceId`"""
    number = "if(p.value = 'as_int', toFloat64(p.as_int), p.as_double) AS Value,\n    p.flags AS Flags"
    return [
        traces,
        trace_id_ts,
        logs,
        metric_view("otel_metrics_gauge", "gauge", f"{number},\n    {exemplars}"),
        metric_view("otel_metrics_sum", "sum", f"""{number},
    {exemplars},
    m.sum.aggregation_temporality AS AggregationTemporality,
    m.sum.is_monotonic AS IsMonotonic"""),
        metric_view("otel_metrics_histogram", "histogram", f"""p.count AS Count,
    p.sum AS Sum,
    p.bucket_counts AS BucketCounts,
    p.explicit_bounds AS ExplicitBounds,
    {exemplars},
    p.flags AS Flags,
    p.min AS Min,
    p.max AS Max,
    m.histogram.aggregation_temporality AS AggregationTemporality"""),
        metric_view("otel_metrics_exponential_histogram", "exponential_histogram", f"""p.count AS Count,
    p.sum AS Sum,
    p.scale AS Scale,
    p.zero_count AS ZeroCount,
    p.positive.offset AS PositiveOffset,
    p.positive.bucket_counts AS PositiveBucketCounts,
    p.negative.offset AS NegativeOffset,
    p.negative.bucket_counts AS NegativeBucketCounts,
    {exemplars},
    p.flags AS Flags,
    p.min AS Min,
    p.max AS Max,
    m.exponential_histogram.aggregation_temporality AS AggregationTemporality"""),
        metric_view("otel_metrics_summary", "summary", """p.count AS Count,
    p.sum AS Sum,
    arrayMap(q -> q.quantile, p.quantile_values) AS `ValueAtQuantiles.Quantile`,
    arrayMap(q -> q.value, p.quantile_values) AS `ValueAtQuantiles.Value`,
    p.flags AS Flags"""),
        _llm_calls_view(o),
    ]



def _logs_view(o: SchemaOptions, where: str = "") -> str:
    """Log records from the staging table into otel_logs (`where` filters them, as SQL on `r`)."""
    db, c = o.database, o.on_cluster
    return f"""CREATE MATERIALIZED VIEW IF NOT EXISTS `{db}`.otel_logs_mv{c} TO `{db}`.otel_logs AS
SELECT
    {_ts("if(r.time_unix_nano != 0, r.time_unix_nano, r.observed_time_unix_nano)")} AS Timestamp,
    {_hex("r.trace_id")} AS TraceId,
    {_hex("r.span_id")} AS SpanId,
    toUInt8(bitAnd(r.flags, 255)) AS TraceFlags,
    r.severity_text AS SeverityText,
    toUInt8(greatest(least(r.severity_number, 255), 0)) AS SeverityNumber,
    ResourceAttributes['service.name'] AS ServiceName,
    {any_str("r.body", 1)} AS Body,
    rl.schema_url AS ResourceSchemaUrl,
    {attr_map("rl.resource.attributes")} AS ResourceAttributes,
    sl.schema_url AS ScopeSchemaUrl,
    sl.scope.name AS ScopeName,
    sl.scope.version AS ScopeVersion,
    {attr_map("sl.scope.attributes")} AS ScopeAttributes,
    {attr_map("r.attributes")} AS LogAttributes,
    r.event_name AS EventName
FROM `{db}`.otlp_logs_in
ARRAY JOIN resource_logs AS rl
ARRAY JOIN rl.scope_logs AS sl
ARRAY JOIN sl.log_records AS r{where}"""

def _llm_calls_view(o: SchemaOptions) -> str:
    """GenAI spans (those with `gen_ai.operation.name`) from otel_traces into llm_calls: schema version 1 only,
    replaced in version 2 by `_llm_calls_events_view`."""
    db, c = o.database, o.on_cluster

    def attr(name: str) -> str:
        return f"SpanAttributes['{name}']"

    def tokens(name: str, older_name: str | None = None) -> str:
        if older_name is None:
            return f"toUInt64OrZero({attr(name)})"
        return f"toUInt64OrZero(if({attr(name)} != '', {attr(name)}, {attr(older_name)}))"

    provider = f"if({attr(gen_ai.GEN_AI_PROVIDER_NAME)} != '', {attr(gen_ai.GEN_AI_PROVIDER_NAME)}, " \
               f"{attr(gen_ai.GEN_AI_SYSTEM)})"
    return f"""CREATE MATERIALIZED VIEW IF NOT EXISTS `{db}`.llm_calls_mv{c} TO `{db}`.llm_calls AS
SELECT
    Timestamp, TraceId, SpanId, ServiceName,
    {provider} AS Provider,
    {attr(gen_ai.GEN_AI_OPERATION_NAME)} AS Operation,
    {attr(gen_ai.GEN_AI_REQUEST_MODEL)} AS RequestModel,
    {attr(gen_ai.GEN_AI_RESPONSE_MODEL)} AS ResponseModel,
    {tokens(gen_ai.GEN_AI_USAGE_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_PROMPT_TOKENS)} AS InputTokens,
    {tokens(gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS, gen_ai.GEN_AI_USAGE_COMPLETION_TOKENS)} AS OutputTokens,
    {tokens(gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)} AS CacheReadTokens,
    {tokens(gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)} AS CacheWriteTokens,
    {tokens(gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)} AS ReasoningTokens,
    toFloat64OrNull({attr(semconv.LLMTAP_COST_USD)}) AS CostUsd,
    Duration,
    toFloat64OrNull({attr(gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)}) AS TimeToFirstToken,
    StatusCode,
    {attr("error.type")} AS ErrorType,
    JSONExtract(if({attr(gen_ai.GEN_AI_RESPONSE_FINISH_REASONS)} = '', '[]',
        {attr(gen_ai.GEN_AI_RESPONSE_FINISH_REASONS)}), 'Array(String)') AS FinishReasons,
    {attr(user_attributes.USER_ID)} AS UserId,
    {attr(semconv.LLMTAP_TENANT_ID)} AS TenantId,
    if({attr(session_attributes.SESSION_ID)} != '', {attr(session_attributes.SESSION_ID)},
        {attr(gen_ai.GEN_AI_CONVERSATION_ID)}) AS SessionId,
    {attr(semconv.LLMTAP_PII_DETECTED)} = 'true' AS PiiDetected,
    left({attr(gen_ai.GEN_AI_INPUT_MESSAGES)}, 1024) AS InputPreview,
    left({attr(gen_ai.GEN_AI_OUTPUT_MESSAGES)}, 1024) AS OutputPreview
FROM `{db}`.otel_traces
WHERE {attr(gen_ai.GEN_AI_OPERATION_NAME)} != ''"""


def _llm_calls_events_view(o: SchemaOptions, source: str = "otlp_logs_in", name: str = "llm_calls_events_mv") -> str:
    """`llmtap.llm_call` log records (from the genai_metrics connector, so before sampling) into llm_calls, from
    the logs staging table (requests that also carry other records) or, in schema versions 6 and 7, as
    `llm_calls_direct_mv` from the calls one. `wire.call_rows` reads records as this does (the exporter's rows
    for requests of call records only); tests/test_clickhouse_store.py holds the two to the same rows.

    The connector writes each attribute with a known type, so each column reads one field of one attribute
    (found by `indexOf` on the keys) instead of turning every attribute into a string map: several times
    cheaper. `indexOf` rather than `arrayFirst` with a lambda: 35 -> 24 us of chDB CPU per record (a missing
    key is index 0, which reads as the default value, as `arrayFirst` gave)."""
    db, c = o.database, o.on_cluster

    def a(name: str) -> str:
        return f"r.attributes.value[indexOf(r.attributes.key, '{name}')]"

    def string(name: str) -> str:
        return f"{a(name)}.string_value"

    def tokens(name: str) -> str:
        return f"toUInt64(greatest({a(name)}.int_value, 0))"

    def number(name: str) -> str:
        v = a(name)
        return (f"multiIf({v}.value = 'double_value', {v}.double_value, {v}.value = 'int_value', "
                f"toFloat64({v}.int_value), NULL)")

    status = string("otel.status_code")
    return f"""CREATE MATERIALIZED VIEW IF NOT EXISTS `{db}`.{name}{c} TO `{db}`.llm_calls AS
SELECT
    {_ts("if(r.time_unix_nano != 0, r.time_unix_nano, r.observed_time_unix_nano)")} AS Timestamp,
    {_hex("r.trace_id")} AS TraceId,
    {_hex("r.span_id")} AS SpanId,
    rl.resource.attributes.value[indexOf(rl.resource.attributes.key, 'service.name')].string_value AS ServiceName,
    {string(gen_ai.GEN_AI_PROVIDER_NAME)} AS Provider,
    {string(gen_ai.GEN_AI_OPERATION_NAME)} AS Operation,
    {string(gen_ai.GEN_AI_REQUEST_MODEL)} AS RequestModel,
    {string(gen_ai.GEN_AI_RESPONSE_MODEL)} AS ResponseModel,
    {tokens(gen_ai.GEN_AI_USAGE_INPUT_TOKENS)} AS InputTokens,
    {tokens(gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS)} AS OutputTokens,
    {tokens(gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)} AS CacheReadTokens,
    {tokens(gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)} AS CacheWriteTokens,
    {tokens(gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)} AS ReasoningTokens,
    {number(semconv.LLMTAP_COST_USD)} AS CostUsd,
    toUInt64(round(greatest(ifNull({number(semconv.LLMTAP_CALL_DURATION)}, 0), 0) * 1e9)) AS Duration,
    {number(gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)} AS TimeToFirstToken,
    multiIf({status} = 'ERROR', 'Error', {status} = 'OK', 'Ok', 'Unset') AS StatusCode,
    {string("error.type")} AS ErrorType,
    arrayMap(v -> v.string_value, {a(gen_ai.GEN_AI_RESPONSE_FINISH_REASONS)}.array_value.values) AS FinishReasons,
    {string(user_attributes.USER_ID)} AS UserId,
    {string(semconv.LLMTAP_TENANT_ID)} AS TenantId,
    {string(session_attributes.SESSION_ID)} AS SessionId,
    {a(semconv.LLMTAP_PII_DETECTED)}.bool_value AS PiiDetected,
    {string(semconv.LLMTAP_PREVIEW_INPUT)} AS InputPreview,
    {string(semconv.LLMTAP_PREVIEW_OUTPUT)} AS OutputPreview
FROM `{db}`.{source}
ARRAY JOIN resource_logs AS rl
ARRAY JOIN rl.scope_logs AS sl
ARRAY JOIN sl.log_records AS r
WHERE r.event_name = '{semconv.LLMTAP_LLM_CALL_EVENT}'"""


# ---------------------------------------------------------------------------------------------
# Migrations

MIGRATIONS_TABLE = "llmtap_schema_migrations"


_NOT_CALLS = f"\nWHERE r.event_name != '{semconv.LLMTAP_LLM_CALL_EVENT}'"
LOCAL = "_local"
"""On a cluster, the suffix of the tables that store each node's rows; the plain names are Distributed tables."""
SHARDING = {
    "otel_traces": "cityHash64(TraceId)",
    "otel_traces_trace_id_ts": "cityHash64(TraceId)",
    "otel_logs": "if(TraceId = '', rand(), cityHash64(TraceId))",
    **{f"otel_metrics_{kind}": "rand()" for kind in ("gauge", "sum", "histogram", "exponential_histogram", "summary")},
    "llm_calls": "cityHash64(TraceId)",
}
"""Distributed tables and their sharding keys: a trace's spans, its logs and its calls on one shard (so trace
lookups and joins stay local); metric points and uncorrelated logs spread evenly."""


def _distribute(o: SchemaOptions) -> list[str]:
    """Schema version 3, on a cluster only: every table becomes `<name>_local` on each node with a Distributed
    `<name>` over them, which is what the views write to and readers (Grafana, `llmtap stats`) query. The
    views are dropped first and made again last: run it with the collectors stopped (a single collector's
    start does), as inserts in between would reach no table."""
    if not o.cluster:
        return []
    db, c = o.database, o.on_cluster
    views = _current_views(o, LOCAL)
    return [
        *_dropped(o, views),
        "RENAME TABLE " + ", ".join(f"`{db}`.{t} TO `{db}`.{t}{LOCAL}" for t in SHARDING) + c,
        *(f"CREATE TABLE IF NOT EXISTS `{db}`.{t}{c} AS `{db}`.{t}{LOCAL}\n"
          f"ENGINE = Distributed('{o.cluster}', '{db}', '{t}{LOCAL}', {key})" for t, key in SHARDING.items()),
        *views,
    ]


def _remade_views(o: SchemaOptions) -> list[str]:
    """Schema versions 4 and 5: every view dropped and made again from the current SQL (the same rows, from
    cheaper expressions: `attr_map`, then `indexOf`). Like version 3, run them with the collectors stopped (a
    single collector's start does)."""
    views = _current_views(o, LOCAL if o.cluster else "")
    return [*_dropped(o, views), *views]


def _dropped(o: SchemaOptions, views: list[str]) -> list[str]:
    """`DROP VIEW` for each view that the `CREATE` statements in `views` make."""
    dropped = []
    for ddl in views:
        name = re.search(r"VIEW IF NOT EXISTS `[^`]+`\.(\w+)", ddl)
        assert name is not None, ddl
        dropped.append(f"DROP VIEW IF EXISTS `{o.database}`.{name.group(1)}{o.on_cluster}")
    return dropped


def _current_views(o: SchemaOptions, local: str = "") -> list[str]:
    """The views as versions 1 and 2 leave them."""
    traces, trace_id_ts, _logs_v1, *metrics, _llm_calls_v1 = _views(o, local)
    return [traces, trace_id_ts, _logs_view(o, _NOT_CALLS), *metrics, _llm_calls_events_view(o)]


def _llm_calls_direct(o: SchemaOptions) -> str:
    return _llm_calls_events_view(o, CALLS_STAGING, "llm_calls_direct_mv")


def migrations(o: SchemaOptions) -> list[tuple[int, str, list[str]]]:
    """(version, description, statements). Append new versions; never edit a released one. (The views' SQL is
    shared: versions 1-3 make them as they are now, which versions 4 and 5 then make again for stores that ran the
    older ones.)"""
    return [
        (1, "OTel tables, llm_calls, OTLP staging tables and views", [*tables(o), *_views(o)]),
        (2, "llm_calls from the genai_metrics connector's llmtap.llm_call records (before sampling), not spans", [
            f"DROP VIEW IF EXISTS `{o.database}`.llm_calls_mv{o.on_cluster}",
            f"DROP VIEW IF EXISTS `{o.database}`.otel_logs_mv{o.on_cluster}",
            _logs_view(o, _NOT_CALLS),
            _llm_calls_events_view(o),
        ]),
        (3, "on a cluster, Distributed tables over each node's tables", _distribute(o)),
        (4, "views made again with cheaper attribute maps", _remade_views(o)),
        (5, "views made again: llm_calls finds a record's attributes by indexOf", _remade_views(o)),
        (6, "a staging table for requests of llmtap.llm_call records only, read by llm_calls alone",
         [_calls_staging(o), _llm_calls_direct(o)]),
        (7, "the llm_calls staging table reads only the fields its view uses", [
            *_dropped(o, [_llm_calls_direct(o)]),
            f"DROP TABLE IF EXISTS `{o.database}`.{CALLS_STAGING}{o.on_cluster}",
            _calls_staging(o, CALLS_COLUMNS),
            _llm_calls_direct(o),
        ]),
        (8, "requests of llmtap.llm_call records only go straight into llm_calls as rows: no staging table", [
            *_dropped(o, [_llm_calls_direct(o)]),
            f"DROP TABLE IF EXISTS `{o.database}`.{CALLS_STAGING}{o.on_cluster}",
        ]),
    ]


def migrations_table(o: SchemaOptions) -> str:
    return f"""CREATE TABLE IF NOT EXISTS `{o.database}`.{MIGRATIONS_TABLE}{o.on_cluster} (
    version UInt32, description String, applied_at DateTime DEFAULT now()
) ENGINE = {o.engine("ReplacingMergeTree")} ORDER BY version"""

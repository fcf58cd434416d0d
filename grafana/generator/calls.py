"""LLM calls: drill down to individual calls in ClickHouse's `llm_calls` table, with their redacted previews
and a link from each to its trace in Tempo."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as model

from .common import ClickHouseSQL, base, clickhouse_variable, grid, row, series, single, trace_link

WHERE = ("$__timeFilter(Timestamp) AND ServiceName IN (${service:singlequote}) "
         "AND RequestModel IN (${model:singlequote}) AND TenantId IN (${tenant:singlequote})")


def _values(column: str) -> str:
    return f"SELECT DISTINCT {column} FROM llm_calls WHERE $__timeFilter(Timestamp) ORDER BY {column}"


def build() -> model.Dashboard:
    board = (base("llmtap-calls", "LLM calls (ClickHouse)",
                  "Every LLM call as a row of llmtap's llm_calls table (recorded before sampling): tokens, cost, "
                  "latency, errors and the redacted input and output previews. Click a trace id to open it.")
             .with_variable(clickhouse_variable("service", "Service", _values("ServiceName")))
             .with_variable(clickhouse_variable("model", "Model", _values("RequestModel")))
             .with_variable(clickhouse_variable("tenant", "Tenant", _values("TenantId")))
             .with_variable(dashboard.TextBoxVariable("search").label("Search previews")))
    search = "AND (positionCaseInsensitive(InputPreview, '${search}') > 0 " \
             "OR positionCaseInsensitive(OutputPreview, '${search}') > 0)"
    board = (board
             .with_row(row("Totals"))
             .with_panel(single("Calls", "short", ClickHouseSQL(
                 f"SELECT count() AS calls FROM llm_calls WHERE {WHERE}")))
             .with_panel(single("Spend", "currencyUSD", ClickHouseSQL(
                 f"SELECT sum(ifNull(CostUsd, 0)) AS usd FROM llm_calls WHERE {WHERE}"), decimals=2))
             .with_panel(single("Tokens", "short", ClickHouseSQL(
                 f"SELECT sum(InputTokens + OutputTokens) AS tokens FROM llm_calls WHERE {WHERE}")))
             .with_panel(single("Calls with PII redacted", "percentunit", ClickHouseSQL(
                 f"SELECT countIf(PiiDetected) / greatest(count(), 1) AS share FROM llm_calls WHERE {WHERE}"),
                                decimals=1))
             .with_panel(series("Calls by model", "short", ClickHouseSQL(f"""
SELECT $__timeInterval(Timestamp) AS time, RequestModel, count() AS calls
FROM llm_calls WHERE {WHERE}
GROUP BY time, RequestModel ORDER BY time""", time_series=True), stacked=True))
             .with_panel(series("Spend by model", "currencyUSD", ClickHouseSQL(f"""
SELECT $__timeInterval(Timestamp) AS time, RequestModel, sum(ifNull(CostUsd, 0)) AS usd
FROM llm_calls WHERE {WHERE}
GROUP BY time, RequestModel ORDER BY time""", time_series=True), stacked=True))
             .with_row(row("Calls"))
             .with_panel(grid("Calls (newest first; the search box matches the previews)", ClickHouseSQL(f"""
SELECT Timestamp, ServiceName AS service, RequestModel AS model, InputTokens AS input_tokens,
       OutputTokens AS output_tokens, CostUsd AS usd, Duration / 1e9 AS seconds, TimeToFirstToken AS ttft,
       ErrorType AS error, UserId AS user, InputPreview AS input, OutputPreview AS output, TraceId
FROM llm_calls
WHERE {WHERE} {search}
ORDER BY Timestamp DESC
LIMIT 500"""), width=24, height=12, links=[trace_link()], link_field="TraceId"))
             .with_panel(grid("Slowest calls", ClickHouseSQL(f"""
SELECT Timestamp, ServiceName AS service, RequestModel AS model, Duration / 1e9 AS seconds,
       OutputTokens AS output_tokens, TraceId
FROM llm_calls WHERE {WHERE}
ORDER BY Duration DESC LIMIT 50"""), links=[trace_link()], link_field="TraceId"))
             .with_panel(grid("Most expensive calls", ClickHouseSQL(f"""
SELECT Timestamp, ServiceName AS service, RequestModel AS model, CostUsd AS usd, InputTokens AS input_tokens,
       CacheReadTokens AS cached_tokens, OutputTokens AS output_tokens, TraceId
FROM llm_calls WHERE {WHERE} AND CostUsd IS NOT NULL
ORDER BY CostUsd DESC LIMIT 50"""), links=[trace_link()], link_field="TraceId")))
    return board.build()


"""Errors: failures by `error.type` (rate limits, timeouts, context length, ...), per model and provider."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from .common import (
    CH_FILTER,
    FAILED,
    FILTER,
    MODEL,
    PROVIDER,
    RATE,
    REQUESTS,
    ClickHouseSQL,
    base,
    filter_variables,
    grid,
    promql,
    row,
    series,
    single,
    trace_link,
)


def build() -> model.Dashboard:
    board = filter_variables(base("llmtap-errors", "LLM errors",
                                  "Failed LLM calls grouped by error.type as the instrumentors classify them "
                                  "(rate_limit, timeout, authentication, content_filter, context_length, "
                                  "server_error, connection) or as the exception type."))
    board = (board
             .with_row(row("Failures"))
             .with_panel(single("Failed calls in range", "short",
                                promql(f"sum(increase({FAILED}[$__range]))", instant=True), decimals=0))
             .with_panel(single("Error ratio", "percentunit",
                                promql(f"sum(rate({FAILED}[{RATE}])) / sum(rate({REQUESTS}[{RATE}]))"), decimals=2))
             .with_panel(single("Rate-limited calls/s", "reqps", promql(
                 f'sum(rate(llmtap_requests_total{{{FILTER}, error_type="rate_limit"}}[{RATE}]))'), decimals=3))
             .with_panel(single("Timeouts/s", "reqps", promql(
                 f'sum(rate(llmtap_requests_total{{{FILTER}, error_type="timeout"}}[{RATE}]))'), decimals=3))
             .with_panel(series("Errors/s by type", "reqps",
                                promql(f"sum by (error_type) (rate({FAILED}[{RATE}]))", "{{error_type}}"),
                                stacked=True))
             .with_panel(series("Error ratio by model", "percentunit", promql(
                 f"sum by ({MODEL}) (rate({FAILED}[{RATE}])) / sum by ({MODEL}) (rate({REQUESTS}[{RATE}]))",
                 f"{{{{{MODEL}}}}}")))
             .with_panel(series("Errors/s by provider and type", "reqps", promql(
                 f"sum by ({PROVIDER}, error_type) (rate({FAILED}[{RATE}]))",
                 f"{{{{{PROVIDER}}}}} {{{{error_type}}}}")))
             .with_panel(grid("Failures by model and type in range", promql(
                 f"sort_desc(sum by ({MODEL}, error_type) (increase({FAILED}[$__range])))", instant=True,
                 table_format=True)))
             .with_row(row("Failed calls"))
             .with_panel(grid("Most recent failed calls", ClickHouseSQL(f"""
SELECT Timestamp, ServiceName AS service, RequestModel AS model, ErrorType AS error, Duration / 1e9 AS seconds,
       UserId AS user, InputPreview AS input, TraceId
FROM llm_calls
WHERE {CH_FILTER} AND (ErrorType != '' OR StatusCode = 'Error')
ORDER BY Timestamp DESC
LIMIT 100"""), width=24, height=10, links=[trace_link()], link_field="TraceId")))
    return board.build()

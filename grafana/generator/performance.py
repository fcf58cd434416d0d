"""Performance: request rate, latency and time to first token percentiles per model, tokens/s, errors."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from .common import (
    FAILED,
    FILTER,
    MODEL,
    RATE,
    REQUESTS,
    base,
    filter_variables,
    promql,
    quantile,
    row,
    series,
    single,
)


def quantiles(histogram: str) -> list[object]:
    return [promql(quantile(q, histogram, by=MODEL), f"p{int(q * 100)} {{{{{MODEL}}}}}") for q in (0.5, 0.95, 0.99)]


def build() -> model.Dashboard:
    board = filter_variables(base("llmtap-performance", "LLM performance",
                                  "Request rate, latency, time to first token and throughput of every LLM call, "
                                  "from llmtap's span-derived series (counted before sampling)."))
    board = (board
             .with_row(row("Overview"))
             .with_panel(single("Requests/s", "reqps", promql(f"sum(rate({REQUESTS}[{RATE}]))")))
             .with_panel(single("Error ratio", "percentunit",
                                promql(f"sum(rate({FAILED}[{RATE}])) / sum(rate({REQUESTS}[{RATE}]))"), decimals=2))
             .with_panel(single("p95 latency", "s", promql(quantile(0.95, "llmtap_request_duration_seconds"))))
             .with_panel(single("p95 time to first token", "s",
                                promql(quantile(0.95, "llmtap_time_to_first_token_seconds"))))
             .with_row(row("Latency"))
             .with_panel(series("Request latency by model", "s", *quantiles("llmtap_request_duration_seconds"),
                                description="Whole-call duration percentiles, from the genai_metrics histogram."))
             .with_panel(series("Time to first token by model", "s",
                                *quantiles("llmtap_time_to_first_token_seconds"),
                                description="Streaming calls only: the wait until the first chunk arrived."))
             .with_row(row("Throughput"))
             .with_panel(series("Requests/s by model", "reqps",
                                promql(f"sum by ({MODEL}) (rate({REQUESTS}[{RATE}]))", f"{{{{{MODEL}}}}}"),
                                stacked=True))
             .with_panel(series("Tokens/s by model and type", "short", promql(
                 f"sum by ({MODEL}, gen_ai_token_type) (rate(llmtap_tokens_total{{{FILTER}}}[{RATE}]))",
                 f"{{{{{MODEL}}}}} {{{{gen_ai_token_type}}}}")))
             .with_panel(series("Generation speed (output tokens per second of call time)", "short", promql(
                 f'sum by ({MODEL}) (rate(llmtap_tokens_total{{{FILTER}, gen_ai_token_type="output"}}[{RATE}]))'
                 f" / sum by ({MODEL}) (rate(llmtap_request_duration_seconds_sum{{{FILTER}}}[{RATE}]))",
                 f"{{{{{MODEL}}}}}"), description="How fast each model writes, averaged over its calls."))
             .with_panel(series("Errors/s by type", "reqps", promql(
                 f"sum by (error_type) (rate({FAILED}[{RATE}]))", "{{error_type}}"), stacked=True)))
    return board.build()

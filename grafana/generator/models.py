"""Model comparison: two or more models side by side (the A/B view): latency, TTFT, cost, errors, tokens."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from .common import FAILED, FILTER, MODEL, RATE, REQUESTS, base, filter_variables, grid, promql, quantile, row, series

BY = f"sum by ({MODEL})"


def _p95(histogram: str, window: str = RATE) -> str:
    return quantile(0.95, histogram, by=MODEL, window=window)


def _error_ratio(window: str) -> str:
    return f"{BY} (rate({FAILED}[{window}])) / {BY} (rate({REQUESTS}[{window}]))"


def _per_1k(window: str) -> str:
    return (f"1000 * {BY} (rate(llmtap_cost_usd_total{{{FILTER}}}[{window}])) / "
            f'{BY} (rate(llmtap_tokens_total{{{FILTER}, gen_ai_token_type=~"input|output"}}[{window}]))')


def _output_per_call(window: str) -> str:
    return (f'{BY} (rate(llmtap_tokens_total{{{FILTER}, gen_ai_token_type="output"}}[{window}])) / '
            f"{BY} (rate({REQUESTS}[{window}]))")


def build() -> model.Dashboard:
    board = filter_variables(base("llmtap-models", "LLM model comparison",
                                  "Pick two or more models in the Model variable to compare them on the same "
                                  "traffic: latency, time to first token, cost, error rate and tokens."))
    window = "$__range"
    legend = f"{{{{{MODEL}}}}}"
    summary = [
        promql(f"{BY} (increase({REQUESTS}[{window}]))", "calls", True, True),
        promql(_p95("llmtap_request_duration_seconds", window), "p95 latency", True, True),
        promql(_p95("llmtap_time_to_first_token_seconds", window), "p95 TTFT", True, True),
        promql(_error_ratio(window), "error ratio", True, True),
        promql(_per_1k(window), "USD per 1k tokens", True, True),
        promql(_output_per_call(window), "output tokens per call", True, True),
    ]
    merge = model.DataTransformerConfig(id_val="merge", options={})
    rename = model.DataTransformerConfig(id_val="organize", options={"renameByName": {
        "Value #A": "calls", "Value #B": "p95 latency (s)", "Value #C": "p95 TTFT (s)", "Value #D": "error ratio",
        "Value #E": "USD per 1k tokens", "Value #F": "output tokens per call"}, "excludeByName": {"Time": True}})
    board = (board
             .with_row(row("Side by side over the time range"))
             .with_panel(grid("Models compared", *summary, width=24, height=7,
                              transformations=[merge, rename],
                              description="One row per model, every figure over the dashboard's time range."))
             .with_row(row("Over time"))
             .with_panel(series("p95 latency", "s", promql(_p95("llmtap_request_duration_seconds"), legend)))
             .with_panel(series("p95 time to first token", "s",
                                promql(_p95("llmtap_time_to_first_token_seconds"), legend)))
             .with_panel(series("Error ratio", "percentunit", promql(_error_ratio(RATE), legend)))
             .with_panel(series("Cost per 1k tokens", "currencyUSD", promql(_per_1k(RATE), legend)))
             .with_panel(series("Output tokens per call", "short", promql(_output_per_call(RATE), legend)))
             .with_panel(series("Requests/s", "reqps", promql(f"{BY} (rate({REQUESTS}[{RATE}]))", legend))))
    return board.build()

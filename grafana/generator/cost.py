"""Cost: spend per model, service, user and tenant; budget burn; cost per 1k tokens; prompt-cache use."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from .common import FILTER, MODEL, RATE, SERVICE, TENANT, base, filter_variables, grid, promql, row, series, single

COST = f"llmtap_cost_usd_total{{{FILTER}}}"

# The budget inputs are recording rules in grafana/alerts/llmtap-rules.yaml; a tenant without its own budget
# uses the default one (`llmtap_tenant_id="*"`), as the budget alerts do.
BUDGET_BURN = (
    "llmtap:cost_usd:tenant_1d / on (llmtap_tenant_id) (llmtap:budget_usd:daily or on (llmtap_tenant_id) "
    '(llmtap:cost_usd:tenant_1d * 0 + on () group_left () llmtap:budget_usd:daily{llmtap_tenant_id="*"}))')
MONTHLY_BURN = BUDGET_BURN.replace("tenant_1d", "tenant_30d").replace("daily", "monthly")


def build() -> model.Dashboard:
    board = filter_variables(base("llmtap-cost", "LLM cost",
                                  "What LLM calls cost in US dollars, priced by llmtap's cost processor "
                                  "(genai-prices plus configured overrides), per model, service, user and tenant."))
    board = (board
             .with_row(row("Spend"))
             .with_panel(single("Spend in range", "currencyUSD",
                                promql(f"sum(increase({COST}[$__range]))", instant=True), decimals=2))
             .with_panel(single("Spend rate", "currencyUSD", promql(f"sum(rate({COST}[{RATE}])) * 3600"),
                                description="US dollars per hour.", decimals=2))
             .with_panel(single("Cost per 1k tokens", "currencyUSD", promql(
                 f"1000 * sum(rate({COST}[{RATE}])) / sum(rate(llmtap_tokens_total{{{FILTER}, "
                 f'gen_ai_token_type=~"input|output"}}[{RATE}]))'), decimals=4))
             .with_panel(single("Saved by prompt caching in range", "currencyUSD", promql(
                 f"sum(increase(llmtap_cost_cache_savings_usd_total{{{FILTER}}}[$__range]))", instant=True),
                                description="Cache-read tokens at the input price minus what they cost at the "
                                            "cache-read price.", decimals=2))
             .with_panel(single("Cached share of input tokens", "percentunit", promql(
                 f'sum(rate(llmtap_tokens_total{{{FILTER}, gen_ai_token_type="cache_read"}}[{RATE}])) / '
                 f'sum(rate(llmtap_tokens_total{{{FILTER}, gen_ai_token_type="input"}}[{RATE}]))'),
                                description="Input tokens read from the provider's prompt cache (billed at the "
                                            "cache-read price).", decimals=1))
             .with_panel(series("Spend per hour by model", "currencyUSD", promql(
                 f"sum by ({MODEL}) (rate({COST}[{RATE}])) * 3600", f"{{{{{MODEL}}}}}"), stacked=True))
             .with_panel(series("Spend per hour by service", "currencyUSD", promql(
                 f"sum by ({SERVICE}) (rate({COST}[{RATE}])) * 3600", f"{{{{{SERVICE}}}}}"), stacked=True))
             .with_panel(series("Spend per hour by part", "currencyUSD", promql(
                 f"sum by (gen_ai_token_type) (rate({COST}[{RATE}])) * 3600", "{{gen_ai_token_type}}"),
                                stacked=True, description="Input, cached input (read and write), output and "
                                                          "reasoning tokens, each at its own price."))
             .with_panel(series("Cost per 1k tokens by model", "currencyUSD", promql(
                 f"1000 * sum by ({MODEL}) (rate({COST}[{RATE}])) / sum by ({MODEL}) (rate(llmtap_tokens_total"
                 f'{{{FILTER}, gen_ai_token_type=~"input|output"}}[{RATE}]))', f"{{{{{MODEL}}}}}")))
             .with_row(row("Who spends"))
             .with_panel(grid("Spend by tenant in range", promql(
                 f"sort_desc(sum by ({TENANT}) (increase({COST}[$__range])))", instant=True, table_format=True),
                              unit="currencyUSD", width=8))
             .with_panel(grid("Top 10 users by spend in range", promql(
                 f'topk(10, sum by (user_id) (increase(llmtap_cost_usd_total{{{FILTER}, user_id!=""}}[$__range])))',
                 instant=True, table_format=True), unit="currencyUSD", width=8,
                              description="user.id from the calls; beyond the connector's top-N cap users show as "
                                          "`other`."))
             .with_panel(grid("Spend by service and model in range", promql(
                 f"sort_desc(sum by ({SERVICE}, {MODEL}) (increase({COST}[$__range])))", instant=True,
                 table_format=True), unit="currencyUSD", width=8))
             .with_row(row("Budgets"))
             .with_panel(series("Daily budget used, per tenant", "percentunit",
                                promql(BUDGET_BURN, "{{llmtap_tenant_id}}"),
                                description="Spend over the last 24 h divided by the tenant's daily budget "
                                            "(llmtap:budget_usd:daily recording rules)."))
             .with_panel(series("Monthly budget used, per tenant", "percentunit",
                                promql(MONTHLY_BURN, "{{llmtap_tenant_id}}"),
                                description="Spend over the last 30 days divided by the monthly budget."))
             .with_panel(series("Saved by prompt caching per hour, by model", "currencyUSD", promql(
                 f"sum by ({MODEL}) (rate(llmtap_cost_cache_savings_usd_total{{{FILTER}}}[{RATE}])) * 3600",
                 f"{{{{{MODEL}}}}}"), stacked=True))
             .with_panel(series("Prompt-cache tokens/s by model", "short", promql(
                 f"sum by ({MODEL}, gen_ai_token_type) (rate(llmtap_tokens_total{{{FILTER}, "
                 f'gen_ai_token_type=~"cache_.*"}}[{RATE}]))', f"{{{{{MODEL}}}}} {{{{gen_ai_token_type}}}}"))))
    return board.build()

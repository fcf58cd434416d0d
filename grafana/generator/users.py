"""Users and sessions: who calls, how much, and how conversations run (sessions from ClickHouse)."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from .common import CH_FILTER, FILTER, RATE, ClickHouseSQL, base, filter_variables, grid, promql, row, series, single

USERS = f'{FILTER}, user_id!=""'


def build() -> model.Dashboard:
    board = filter_variables(base("llmtap-users", "LLM users and sessions",
                                  "Calls, tokens and spend per user (user.id) and per session (session.id), "
                                  "as set by llmtap.attributes() or any instrumentation."))
    board = (board
             .with_row(row("Users"))
             .with_panel(single("Active users in range", "short", promql(
                 f"count(sum by (user_id) (increase(llmtap_requests_total{{{USERS}}}[$__range])) > 0)",
                 instant=True)))
             .with_panel(single("Calls per active user", "short", promql(
                 f"sum(increase(llmtap_requests_total{{{USERS}}}[$__range])) / "
                 f"count(sum by (user_id) (increase(llmtap_requests_total{{{USERS}}}[$__range])) > 0)",
                 instant=True), decimals=1))
             .with_panel(single("Sessions in range", "short", ClickHouseSQL(
                 f"SELECT uniqExact(SessionId) AS sessions FROM llm_calls WHERE {CH_FILTER} AND SessionId != ''")))
             .with_panel(single("Calls per session", "short", ClickHouseSQL(
                 f"SELECT count() / greatest(uniqExact(SessionId), 1) AS calls_per_session FROM llm_calls "
                 f"WHERE {CH_FILTER} AND SessionId != ''"), decimals=1))
             .with_panel(series("Active users", "short", promql(
                 f"count(sum by (user_id) (rate(llmtap_requests_total{{{USERS}}}[{RATE}])) > 0)", "users")))
             .with_panel(series("Requests/s of the 10 busiest users", "reqps", promql(
                 f"topk(10, sum by (user_id) (rate(llmtap_requests_total{{{USERS}}}[{RATE}])))", "{{user_id}}")))
             .with_panel(grid("Top users in range", promql(
                 f"topk(20, sum by (user_id) (increase(llmtap_requests_total{{{USERS}}}[$__range])))", "",
                 True, True), promql(
                 f"sum by (user_id) (increase(llmtap_cost_usd_total{{{USERS}}}[$__range]))", "", True, True),
                 promql(f'sum by (user_id) (increase(llmtap_tokens_total{{{USERS}, '
                        f'gen_ai_token_type=~"input|output"}}[$__range]))', "", True, True),
                 transformations=[
                     model.DataTransformerConfig(id_val="merge", options={}),
                     model.DataTransformerConfig(id_val="organize", options={
                         "excludeByName": {"Time": True},
                         "renameByName": {"Value #A": "calls", "Value #B": "USD", "Value #C": "tokens"}})],
                 description="By calls; users past the connector's top-N cap are counted as `other`."))
             .with_row(row("Sessions"))
             .with_panel(grid("Longest sessions in range", ClickHouseSQL(f"""
SELECT SessionId AS session, any(UserId) AS user, any(ServiceName) AS service, count() AS calls,
       sum(InputTokens + OutputTokens) AS tokens, round(sum(ifNull(CostUsd, 0)), 4) AS usd,
       min(Timestamp) AS started, max(Timestamp) AS last_call
FROM llm_calls
WHERE {CH_FILTER} AND SessionId != ''
GROUP BY SessionId
ORDER BY calls DESC
LIMIT 50"""), width=24)))
    return board.build()

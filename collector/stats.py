"""`llmtap stats`: calls, errors, tokens, cost and latency per model and per service, from `llm_calls`.

It asks the running collector's read endpoint (or any ClickHouse server holding llmtap's tables).
"""

from __future__ import annotations

from typing import Any

QUERY = """
SELECT
    {group} AS key,
    count() AS calls,
    countIf(StatusCode = 'Error') AS errors,
    sum(InputTokens) AS input_tokens,
    sum(OutputTokens) AS output_tokens,
    sumOrNull(CostUsd) AS cost_usd,
    countIf(CostUsd IS NULL) AS unpriced,
    quantiles(0.5, 0.95, 0.99)(Duration / 1e9) AS latency,
    quantilesIf(0.5, 0.95, 0.99)(TimeToFirstToken, TimeToFirstToken IS NOT NULL) AS ttft
FROM llm_calls
WHERE Timestamp >= now64(9) - toIntervalSecond({since})
GROUP BY key
ORDER BY calls DESC
"""


def collect(client: Any, since_seconds: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name, group in (("model", "RequestModel"), ("service", "ServiceName")):
        result = client.query(QUERY.format(group=group, since=int(since_seconds)))
        rows = []
        for row in result.named_results():
            lat, ttft = row.pop("latency"), row.pop("ttft")
            row.update(p50_s=lat[0], p95_s=lat[1], p99_s=lat[2])
            has_ttft = bool(ttft) and any(v == v for v in ttft)  # NaN when no streamed calls
            row.update(ttft_p50_s=ttft[0] if has_ttft else None, ttft_p95_s=ttft[1] if has_ttft else None,
                       ttft_p99_s=ttft[2] if has_ttft else None)
            rows.append(row)
        out[name] = rows
    return out


def render(stats: dict[str, list[dict[str, Any]]]) -> str:
    def fmt(v: Any, kind: str = "") -> str:
        if v is None:
            return "-"
        if kind == "s":
            return f"{v:.2f}s" if v == v else "-"
        if kind == "$":
            return f"${v:,.4f}"
        return f"{v:,}" if isinstance(v, int) else str(v)

    lines = []
    for group, rows in stats.items():
        header = [group, "calls", "errors", "in tok", "out tok", "cost", "p50", "p95", "p99", "ttft p50", "ttft p95"]
        table = [header]
        for r in rows:
            cost = fmt(r["cost_usd"], "$") + (" *" if r["unpriced"] else "")
            table.append([r["key"] or "(none)", fmt(r["calls"]), fmt(r["errors"]), fmt(r["input_tokens"]),
                          fmt(r["output_tokens"]), cost, fmt(r["p50_s"], "s"), fmt(r["p95_s"], "s"),
                          fmt(r["p99_s"], "s"), fmt(r["ttft_p50_s"], "s"), fmt(r["ttft_p95_s"], "s")])
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for j, row in enumerate(table):
            cells = zip(row, widths, strict=True)
            lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(cells)))
            if j == 0:
                lines.append("  ".join("-" * w for w in widths))
        lines.append("")
    if any(r["unpriced"] for rows in stats.values() for r in rows):
        lines.append("* some calls have no price yet (unknown model, or the cost processor is not enabled)")
    if not any(stats.values()):
        lines.append("no GenAI calls in this window (try `llmtap demo`)")
    return "\n".join(lines)

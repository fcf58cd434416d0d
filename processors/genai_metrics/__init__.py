"""The `genai_metrics` connector: span-derived `llmtap.*` series and `llmtap.llm_call` records, computed
before sampling so that request, token and cost accounting is exact whatever sampling drops.

    connectors:
      genai_metrics: {users: {top: 50}, tenants: {enabled: false}}
    service:
      pipelines:
        traces:     {receivers: [otlp], processors: [redact, cost, genai_metrics, sample], exporters: [clickhouse]}
        metrics:    {receivers: [otlp, genai_metrics], exporters: [clickhouse]}
        logs/calls: {receivers: [genai_metrics], exporters: [clickhouse]}
"""

from __future__ import annotations

from llmtap.collector.component import Factory
from llmtap.collector.signals import Signal
from llmtap.processors.genai_metrics.config import GenAIMetricsConfig
from llmtap.processors.genai_metrics.connector import GenAIMetricsConnector

factory: Factory[GenAIMetricsConfig] = Factory(
    type="genai_metrics", config=GenAIMetricsConfig, create=lambda cid, cfg: GenAIMetricsConnector(cid, cfg),
    signals=frozenset({Signal.TRACES}), outputs=frozenset({Signal.METRICS, Signal.LOGS}))

__all__ = ["GenAIMetricsConfig", "GenAIMetricsConnector", "factory"]

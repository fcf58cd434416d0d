"""The `loki` exporter: logs (application logs, GenAI events, and one line per GenAI call from the
`genai_metrics` connector's `llmtap.llm_call` records) to Grafana Loki.

    exporters:
      loki:
        endpoint: http://loki:3100
        labels: [service.name, gen_ai.provider.name, gen_ai.request.model, level]
"""

from __future__ import annotations

from llmtap.collector.component import Factory
from llmtap.collector.signals import Signal
from llmtap.exporters.loki.config import LokiExporterConfig
from llmtap.exporters.loki.exporter import LokiExporter

factory: Factory[LokiExporterConfig] = Factory(type="loki", config=LokiExporterConfig,
                                               create=lambda cid, cfg: LokiExporter(cid, cfg),
                                               signals=frozenset({Signal.LOGS}))

__all__ = ["LokiExporter", "LokiExporterConfig", "factory"]

"""Every component type llmtap knows, by the name the config uses for it."""

from __future__ import annotations

from typing import Any

from llmtap.collector.component import Factory
from llmtap.collector.receivers import otlp
from llmtap.exporters import clickhouse, debug, loki, prometheus, tempo
from llmtap.processors import cost, genai_metrics, normalize, redact, sample

RECEIVERS: dict[str, Factory[Any]] = {f.type: f for f in (otlp.factory,)}
PROCESSORS: dict[str, Factory[Any]] = {
    f.type: f for f in (normalize.factory, redact.factory, cost.factory, sample.factory)
}
EXPORTERS: dict[str, Factory[Any]] = {
    f.type: f for f in (debug.factory, clickhouse.factory, tempo.factory, loki.factory, prometheus.factory)
}
CONNECTORS: dict[str, Factory[Any]] = {f.type: f for f in (genai_metrics.factory,)}

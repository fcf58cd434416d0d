"""The `prometheus` exporter: OTLP metrics and llmtap's span-derived series to Prometheus, by remote write
1.0 and/or a `/metrics` endpoint, named as Prometheus' own OTLP translation names them.

    exporters:
      prometheus:
        endpoint: http://prometheus:9090/api/v1/write
        pull: {endpoint: "0.0.0.0:9464"}
"""

from __future__ import annotations

from llmtap.collector.component import Factory
from llmtap.collector.signals import Signal
from llmtap.exporters.prometheus.config import PrometheusExporterConfig
from llmtap.exporters.prometheus.exporter import PrometheusExporter

factory: Factory[PrometheusExporterConfig] = Factory(
    type="prometheus", config=PrometheusExporterConfig, create=lambda cid, cfg: PrometheusExporter(cid, cfg),
    signals=frozenset({Signal.METRICS}))

__all__ = ["PrometheusExporter", "PrometheusExporterConfig", "factory"]

"""The `tempo` exporter: traces to Grafana Tempo over OTLP/gRPC or OTLP/HTTP, gzip, TLS, and the tenant header
of multi-tenant Tempo, static or from a resource attribute.

    exporters:
      tempo:
        endpoint: tempo-distributor:4317
        tls: {insecure: true}
        tenant: {from_resource_attribute: service.namespace, default: shared}
"""

from __future__ import annotations

from llmtap.collector.component import Factory
from llmtap.collector.signals import Signal
from llmtap.exporters.tempo.config import TempoExporterConfig
from llmtap.exporters.tempo.exporter import TempoExporter

factory: Factory[TempoExporterConfig] = Factory(type="tempo", config=TempoExporterConfig,
                                                create=lambda cid, cfg: TempoExporter(cid, cfg),
                                                signals=frozenset({Signal.TRACES}))

__all__ = ["TempoExporter", "TempoExporterConfig", "factory"]

"""The ClickHouse exporter and the embedded store (chDB), with its read-only query endpoint."""

from llmtap.collector.component import Factory
from llmtap.exporters.clickhouse.exporter import ClickHouseExporter, ClickHouseExporterConfig

factory: Factory[ClickHouseExporterConfig] = Factory(
    type="clickhouse", config=ClickHouseExporterConfig, create=lambda cid, cfg: ClickHouseExporter(cid, cfg)
)

__all__ = ["ClickHouseExporter", "ClickHouseExporterConfig", "factory"]

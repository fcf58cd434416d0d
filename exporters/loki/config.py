"""The `loki` exporter's settings."""

from __future__ import annotations

from typing import Literal

from llmtap.collector.config import ByteSize, Duration
from llmtap.collector.exporter import ExporterSettings
from llmtap.collector.queue import BatchConfig
from llmtap.exporters.tenancy import TenantConfig

DEFAULT_LABELS = ["service.name", "service.namespace", "deployment.environment.name", "gen_ai.provider.name",
                  "gen_ai.request.model", "level"]


class LokiExporterConfig(ExporterSettings):
    endpoint: str
    """Loki's base URL, such as `http://loki:3100`."""
    mode: Literal["push", "otlp"] = "push"
    """`push`: `/loki/api/v1/push` (protobuf + snappy) with the labels below and everything else as structured
    metadata. `otlp`: Loki's native OTLP endpoint `/otlp/v1/logs`, where Loki's own config picks the labels."""
    labels: list[str] = DEFAULT_LABELS
    """Push mode: the attributes (of the record, else its resource) that become stream labels, sanitized
    (`service.name` -> `service_name`); `level` is the severity. Keep them few and low-cardinality."""
    headers: dict[str, str] = {}
    tenant: TenantConfig | None = None
    timeout: Duration = 10.0
    max_line_bytes: ByteSize = 256 * 1024
    """Loki's default `max_line_size`: longer lines are cut (and counted) rather than refused."""
    batch: BatchConfig = BatchConfig(max_bytes=4 * 2**20)
    tls_ca_file: str | None = None
    insecure_skip_verify: bool = False

"""The `prometheus` exporter's settings."""

from __future__ import annotations

from pydantic import model_validator

from llmtap.collector.config import Duration, Model
from llmtap.collector.exporter import ExporterSettings


class PullConfig(Model):
    endpoint: str = "127.0.0.1:9464"
    """Where `/metrics` is served for Prometheus to scrape."""


class PrometheusExporterConfig(ExporterSettings):
    endpoint: str | None = None
    """Remote write URL, such as `http://prometheus:9090/api/v1/write` (Prometheus started with
    `--web.enable-remote-write-receiver`), Mimir's or any remote-write receiver's."""
    headers: dict[str, str] = {}
    """E.g. `X-Scope-OrgID` for Mimir, `Authorization`."""
    timeout: Duration = 10.0
    resource_to_telemetry_conversion: bool = False
    """Put every resource attribute on every series too (by default they are on `target_info` only)."""
    stale_after: Duration = 300.0
    """A series not updated for this long gets a staleness marker, so Prometheus stops showing it at once."""
    pull: PullConfig | None = None

    @model_validator(mode="after")
    def _somewhere(self) -> PrometheusExporterConfig:
        if self.endpoint is None and self.pull is None:
            raise ValueError("set endpoint (remote write), pull (a /metrics endpoint), or both")
        return self

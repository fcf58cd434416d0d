"""The `tempo` exporter's settings, named as the Go Collector's `otlp`/`otlphttp` exporters name them."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from llmtap.collector.config import Duration, Model
from llmtap.collector.exporter import ExporterSettings
from llmtap.collector.queue import BatchConfig
from llmtap.exporters.tenancy import TenantConfig


class TLSClientConfig(Model):
    insecure: bool = False
    """gRPC only: plaintext, no TLS (for OTLP/HTTP the endpoint's scheme decides)."""
    ca_file: str | None = None
    cert_file: str | None = None
    """With `key_file`: a client certificate, for mTLS."""
    key_file: str | None = None
    insecure_skip_verify: bool = False


class TempoExporterConfig(ExporterSettings):
    endpoint: str
    """gRPC: `host:port` (Tempo's distributor, 4317). OTLP/HTTP: `http(s)://host:4318` (`/v1/traces` is added
    unless the URL has a path)."""
    protocol: Literal["grpc", "http"] = "grpc"
    compression: Literal["gzip", "none"] = "gzip"
    headers: dict[str, str] = {}
    tenant: TenantConfig | None = None
    tls: TLSClientConfig = TLSClientConfig()
    timeout: Duration = 10.0
    batch: BatchConfig = BatchConfig(max_bytes=4 * 2**20)
    """At most 4 MiB per request: Tempo's default gRPC message limit."""

    @model_validator(mode="after")
    def _endpoint_fits(self) -> TempoExporterConfig:
        is_url = self.endpoint.startswith(("http://", "https://"))
        if self.protocol == "http" and not is_url:
            raise ValueError("an OTLP/HTTP endpoint is a URL such as http://tempo:4318")
        if self.protocol == "grpc" and is_url:
            raise ValueError("a gRPC endpoint is host:port such as tempo:4317")
        return self

"""`LokiExporter`: logs to Grafana Loki by its push API (protobuf + snappy) or its OTLP endpoint."""

from __future__ import annotations

import logging

import cramjam
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from llmtap.collector.component import Exporter, Host
from llmtap.collector.signals import Signal
from llmtap.exporters import tenancy
from llmtap.exporters.loki.config import LokiExporterConfig
from llmtap.exporters.loki.push import PushRequest
from llmtap.exporters.loki.streams import Streams, to_streams
from llmtap.exporters.otlp_client import HTTPClient

log = logging.getLogger("llmtap.exporter.loki")


def encode(streams: Streams) -> bytes:
    request = PushRequest()
    for stream in streams.streams.values():
        adapter = request.streams.add(labels=stream.labels)
        for ts, line, metadata in stream.entries:
            entry = adapter.entries.add(line=line)
            entry.timestamp.seconds, entry.timestamp.nanos = divmod(ts, 1_000_000_000)
            for name, value in metadata:
                entry.structuredMetadata.add(name=name, value=value)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


class LokiExporter(Exporter):
    signals = frozenset({Signal.LOGS})

    def __init__(self, component_id: str, config: LokiExporterConfig):
        super().__init__(component_id)
        self.config = config
        self.client: HTTPClient | None = None
        self.truncated_lines = 0
        self.deliveries = tenancy.Deliveries()

    async def start(self, host: Host) -> None:
        c = self.config
        base = c.endpoint.rstrip("/")
        if c.mode == "push":
            url = f"{base}/loki/api/v1/push"
            headers = {**c.headers, "Content-Encoding": "snappy"}
        else:
            url = f"{base}/otlp/v1/logs"
            headers = dict(c.headers)
        self.client = HTTPClient(url, Signal.LOGS, gzip_body=c.mode == "otlp", timeout=c.timeout, headers=headers,
                                 ca_file=c.tls_ca_file, verify=not c.insecure_skip_verify)

    async def shutdown(self) -> None:
        if self.client is not None:
            self.client.close()

    def export(self, signal: Signal, payloads: list[bytes], dedup_token: str) -> None:
        tenant = self.config.tenant
        if tenant is None or tenant.value is not None:
            self._send(tenancy.header(tenant, tenant.value if tenant else None), payloads=payloads)
            return
        parts = tenancy.split(ExportLogsServiceRequest.FromString(b"".join(payloads)), tenant)
        for name, request in self.deliveries.pending(dedup_token, parts):
            self._send(tenancy.header(tenant, name), request=request)

    def _send(self, headers: dict[str, str], payloads: list[bytes] | None = None,
              request: ExportLogsServiceRequest | None = None) -> None:
        """Queued `payloads` as they are, or one `request` already parsed (a tenant's part)."""
        assert self.client is not None
        if self.config.mode == "otlp":
            self.client.send(request.SerializeToString() if request is not None else b"".join(payloads or ()),
                             headers)
            return
        requests = [request] if request is not None else [ExportLogsServiceRequest.FromString(p)
                                                          for p in payloads or ()]
        streams = to_streams(requests, self.config.labels, self.config.max_line_bytes)
        if streams.truncated:
            self.truncated_lines += streams.truncated
            log.warning("%s: %d lines over %d bytes were cut", self.id, streams.truncated,
                        self.config.max_line_bytes)
        if streams.streams:
            self.client.send(encode(streams), headers)

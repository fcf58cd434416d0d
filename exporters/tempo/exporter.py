"""`TempoExporter`: the processed traces to Grafana Tempo's distributor over OTLP.

Queued requests are concatenated as they are (concatenated OTLP requests are one valid request: repeated
fields merge), so an export parses nothing unless the tenant comes from a resource attribute.
"""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from llmtap.collector.component import Exporter, Host
from llmtap.collector.signals import Signal
from llmtap.exporters import tenancy
from llmtap.exporters.otlp_client import GRPCClient, HTTPClient
from llmtap.exporters.tempo.config import TempoExporterConfig


class TempoExporter(Exporter):
    signals = frozenset({Signal.TRACES})

    def __init__(self, component_id: str, config: TempoExporterConfig):
        super().__init__(component_id)
        self.config = config
        self.client: HTTPClient | GRPCClient | None = None
        self.deliveries = tenancy.Deliveries()

    async def start(self, host: Host) -> None:
        c, tls = self.config, self.config.tls
        gzip_body = c.compression == "gzip"
        if c.protocol == "http":
            self.client = HTTPClient(c.endpoint, Signal.TRACES, gzip_body=gzip_body, timeout=c.timeout,
                                     headers=c.headers, ca_file=tls.ca_file, cert_file=tls.cert_file,
                                     key_file=tls.key_file, verify=not tls.insecure_skip_verify)
        else:
            self.client = GRPCClient(c.endpoint, Signal.TRACES, gzip_body=gzip_body, timeout=c.timeout,
                                     headers=c.headers, insecure=tls.insecure, ca_file=tls.ca_file,
                                     cert_file=tls.cert_file, key_file=tls.key_file)

    async def shutdown(self) -> None:
        if self.client is not None:
            self.client.close()

    def export(self, signal: Signal, payloads: list[bytes], dedup_token: str) -> None:
        assert self.client is not None
        body = b"".join(payloads)
        tenant = self.config.tenant
        if tenant is None or tenant.value is not None:
            self.client.send(body, tenancy.header(tenant, tenant.value if tenant else None))
            return
        parts = tenancy.split(ExportTraceServiceRequest.FromString(body), tenant)
        for name, request in self.deliveries.pending(dedup_token, parts):
            self.client.send(request.SerializeToString(), tenancy.header(tenant, name))

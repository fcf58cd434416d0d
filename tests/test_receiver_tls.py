"""The OTLP receivers over TLS, as the Go Collector's users configure them, with the SDK's own exporters."""

from __future__ import annotations

from pathlib import Path

import pytest
from grpc import ssl_channel_credentials
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from llmtap.collector.signals import Signal
from tests.conftest import free_port, memory_config, run_service, wait_for
from tests.tls import make_tls


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_sdk_exporters_send_over_tls(tmp_path: Path, transport: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK's HTTP exporter sets its CA on the requests session, where a CA bundle from the environment wins.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    files = make_tls(tmp_path / "tls")
    grpc_port, http_port = free_port(), free_port()
    tls = f", tls: {{cert_file: '{files.cert}', key_file: '{files.key}'}}"
    with run_service(memory_config(grpc_port, http_port, tmp_path, extra_receiver=tls)) as running:
        exporter: HTTPSpanExporter | GRPCSpanExporter
        if transport == "http":
            exporter = HTTPSpanExporter(endpoint=f"https://127.0.0.1:{http_port}/v1/traces",
                                        certificate_file=str(files.ca))
        else:
            credentials = ssl_channel_credentials(root_certificates=files.ca.read_bytes())
            exporter = GRPCSpanExporter(endpoint=f"localhost:{grpc_port}", credentials=credentials)
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("t")
        for i in range(5):
            with tracer.start_as_current_span(f"over tls {i}"):
                pass
        provider.shutdown()
        wait_for(lambda: running.exporter().items(Signal.TRACES) == 5)

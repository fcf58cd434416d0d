"""The `tempo` exporter against a stand-in Tempo that decodes what it receives with the OTLP schema."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import requests

from llmtap.collector.config import ConfigError
from llmtap.collector.service import parse_config
from llmtap.collector.signals import Signal
from tests.conftest import free_port, run_service, wait_for
from tests.fake_tempo import FakeTempo
from tests.otlp_data import genai_spans, kv
from tests.tls import make_tls

PB = {"Content-Type": "application/x-protobuf"}


def config(tmp_path: Path, tempo: str) -> str:
    return f"""
receivers:
  otlp: {{protocols: {{http: {{endpoint: "127.0.0.1:{free_port()}"}}}}}}
exporters:
  tempo: {tempo}
service:
  data_dir: {tmp_path}
  shutdown_timeout: 5s
  telemetry: {{metrics: {{endpoint: null}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [tempo]}}
"""


RETRY = "retry_on_failure: {initial_interval: 50ms, max_interval: 200ms}, batch: {flush_interval: 50ms}"


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_spans_arrive_compressed_with_a_static_tenant(tmp_path: Path, protocol: str) -> None:
    tempo = FakeTempo()
    server, endpoint = tempo.serve_http() if protocol == "http" else tempo.serve_grpc()
    tls = ", tls: {insecure: true}" if protocol == "grpc" else ""
    settings = f"{{endpoint: '{endpoint}', protocol: {protocol}, tenant: {{value: team-a}}, {RETRY}{tls}}}"
    try:
        with run_service(config(tmp_path, settings)) as running:
            sent = [genai_spans(50, seed=i) for i in range(3)]
            for request in sent:
                r = requests.post(f"{running.http}/v1/traces", data=request.SerializeToString(), headers=PB)
                assert r.status_code == 200
            wait_for(lambda: len(tempo.spans()) == 150)
    finally:
        server.shutdown() if protocol == "http" else server.stop(0)  # type: ignore[union-attr]
    expected = {s.span_id for r in sent for s in r.resource_spans[0].scope_spans[0].spans}
    assert {s.span_id for s in tempo.spans()} == expected
    assert {r.tenant for r in tempo.received} == {"team-a"}


def test_tenant_from_a_resource_attribute_splits_requests(tmp_path: Path) -> None:
    tempo = FakeTempo()
    server, endpoint = tempo.serve_grpc()
    settings = (f"{{endpoint: '{endpoint}', tls: {{insecure: true}}, {RETRY}, "
                "tenant: {from_resource_attribute: service.namespace, default: shared}}")
    try:
        with run_service(config(tmp_path, settings)) as running:
            for namespace in ("billing", "search", None):
                request = genai_spans(10)
                if namespace:
                    request.resource_spans[0].resource.attributes.append(kv("service.namespace", namespace))
                requests.post(f"{running.http}/v1/traces", data=request.SerializeToString(), headers=PB)
            wait_for(lambda: len(tempo.spans()) == 30)
    finally:
        server.stop(0)
    per_tenant: Counter[str | None] = Counter()
    for r in tempo.received:
        per_tenant[r.tenant] += sum(len(ss.spans) for rs in r.request.resource_spans for ss in rs.scope_spans)
    assert per_tenant == {"billing": 10, "search": 10, "shared": 10}


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_outage_then_recovery_delivers_everything_once(tmp_path: Path, protocol: str) -> None:
    tempo = FakeTempo()
    tempo.answers.extend([(503, {})] * 4)
    server, endpoint = tempo.serve_http() if protocol == "http" else tempo.serve_grpc()
    tls = ", tls: {insecure: true}" if protocol == "grpc" else ""
    try:
        with run_service(config(tmp_path, f"{{endpoint: '{endpoint}', protocol: {protocol}, {RETRY}{tls}}}")) \
                as running:
            for i in range(5):
                r = requests.post(f"{running.http}/v1/traces", data=genai_spans(20, seed=i).SerializeToString(),
                                  headers=PB)
                assert r.status_code == 200, "accepted while Tempo is down: it is queued"
            wait_for(lambda: len(tempo.spans()) >= 100)
    finally:
        server.shutdown() if protocol == "http" else server.stop(0)  # type: ignore[union-attr]
    ids = [s.span_id for s in tempo.spans()]
    assert len(ids) == len(set(ids)) == 100
    assert len(tempo.attempts) >= 5, "the failed attempts were retried"


def test_retry_after_is_honoured_and_bad_requests_are_not_retried(tmp_path: Path) -> None:
    tempo = FakeTempo()
    tempo.answers.extend([(429, {"Retry-After": "1"})])
    server, endpoint = tempo.serve_http()
    try:
        with run_service(config(tmp_path, f"{{endpoint: '{endpoint}', protocol: http, {RETRY}}}")) as running:
            requests.post(f"{running.http}/v1/traces", data=genai_spans(5).SerializeToString(), headers=PB)
            wait_for(lambda: len(tempo.spans()) == 5)
            assert tempo.attempts[1] - tempo.attempts[0] >= 0.9, "waited as Retry-After asked, not 50ms"
            tempo.answers.append((400, {}))
            attempts = len(tempo.attempts)
            requests.post(f"{running.http}/v1/traces", data=genai_spans(7).SerializeToString(), headers=PB)
            telemetry = running.service.telemetry.registry
            wait_for(lambda: telemetry.get_sample_value("llmtap_exporter_dropped_items_total",
                                                        {"queue": "tempo/traces"}) == 7)
            assert len(tempo.attempts) == attempts + 1, "a 400 is permanent: one attempt, counted as dropped"
    finally:
        server.shutdown()
    assert len(tempo.spans()) == 5


@pytest.mark.parametrize(("settings", "message"), [
    ("{endpoint: 'tempo:4317', protocol: http}", "is a URL"),
    ("{endpoint: 'http://tempo:4318'}", "is host:port"),
    ("{endpoint: 'tempo:4317', tenant: {}}", "one of value and from_resource_attribute"),
])
def test_config_errors(tmp_path: Path, settings: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(config(tmp_path, settings))


def test_a_dead_backend_does_not_block_the_others(tmp_path: Path) -> None:
    """Tempo down: the other exporter of the fan-out gets everything; Tempo's queue fills, and only then does the
    collector answer with backpressure (nothing is dropped, nothing is half-queued)."""
    tempo = FakeTempo()
    tempo.answers.extend([(503, {})] * 10_000)
    server, endpoint = tempo.serve_http()
    port = free_port()
    text = f"""
receivers:
  otlp: {{protocols: {{http: {{endpoint: "127.0.0.1:{port}"}}}}}}
exporters:
  memory: {{}}
  tempo: {{endpoint: '{endpoint}', protocol: http, sending_queue: {{persistent: false, max_bytes: 200KiB}}, {RETRY}}}
service:
  data_dir: {tmp_path}
  shutdown_timeout: 1s
  telemetry: {{metrics: {{endpoint: null}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [memory, tempo]}}
"""
    try:
        with run_service(text) as running:
            accepted = refused = 0
            for i in range(40):
                body = genai_spans(20, seed=i, content_bytes=200).SerializeToString()
                r = requests.post(f"{running.http}/v1/traces", data=body, headers=PB)
                if r.status_code == 200:
                    accepted += 1
                else:
                    assert r.status_code in (429, 503) and "Retry-After" in r.headers
                    refused += 1
            assert accepted and refused, "the queue in front of the dead Tempo filled, then the collector pushed back"
            memory = running.exporter("memory")
            wait_for(lambda: memory.items(Signal.TRACES) == accepted * 20)
            assert tempo.spans() == []
    finally:
        server.shutdown()


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_tls_with_a_private_ca(tmp_path: Path, protocol: str) -> None:
    files = make_tls(tmp_path / "tls")
    tempo = FakeTempo()
    server, endpoint = tempo.serve_http(files) if protocol == "http" else tempo.serve_grpc(files)
    if protocol == "grpc":
        endpoint = endpoint.replace("127.0.0.1", "localhost")
    settings = f"{{endpoint: '{endpoint}', protocol: {protocol}, tls: {{ca_file: '{files.ca}'}}, {RETRY}}}"
    try:
        with run_service(config(tmp_path, settings)) as running:
            requests.post(f"{running.http}/v1/traces", data=genai_spans(12).SerializeToString(), headers=PB)
            wait_for(lambda: len(tempo.spans()) == 12)
    finally:
        server.shutdown() if protocol == "http" else server.stop(0)  # type: ignore[union-attr]


def test_a_retry_after_a_partial_failure_sends_only_the_tenants_not_yet_delivered() -> None:
    from llmtap.exporters.tenancy import Deliveries

    deliveries = Deliveries()
    parts: dict[str | None, int] = {"acme": 1, "globex": 2, None: 3}
    sent: list[str | None] = []
    with pytest.raises(ConnectionError):
        for name, _ in deliveries.pending("batch-1", parts):
            if name == "globex":
                raise ConnectionError("backend went away")  # acme went out, globex did not
            sent.append(name)
    for name, _ in deliveries.pending("batch-1", parts):  # the retry
        sent.append(name)
    assert sent == ["acme", "globex", None], "acme is not sent twice, globex is not lost"
    assert list(deliveries.pending("batch-2", parts)) == list(parts.items()), "another batch starts afresh"

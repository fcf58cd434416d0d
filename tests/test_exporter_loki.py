"""The `loki` exporter against a stand-in Loki that decodes pushes with Loki's push.proto (compiled by protoc)."""

from __future__ import annotations

import re
import shlex
from collections import Counter
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port, run_service, wait_for
from tests.fake_loki import FakeLoki
from tests.otlp_data import genai_spans, kv, log_records

PB = {"Content-Type": "application/x-protobuf"}
RETRY = "retry_on_failure: {initial_interval: 50ms, max_interval: 200ms}, batch: {flush_interval: 50ms}"


def config(tmp_path: Path, loki: str) -> str:
    return f"""
receivers:
  otlp: {{protocols: {{http: {{endpoint: "127.0.0.1:{free_port()}"}}}}}}
processors:
  cost: {{}}
connectors:
  genai_metrics: {{flush_interval: 1h}}
exporters:
  debug: {{}}
  loki: {loki}
service:
  data_dir: {tmp_path}
  shutdown_timeout: 5s
  telemetry: {{metrics: {{endpoint: null}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [cost, genai_metrics], exporters: [debug]}}
    metrics: {{receivers: [genai_metrics], exporters: [debug]}}
    logs: {{receivers: [otlp, genai_metrics], exporters: [loki]}}
"""


def _post(url: str, path: str, body: bytes) -> None:
    assert requests.post(f"{url}{path}", data=body, headers=PB, timeout=10).status_code == 200


def test_push_streams_labels_metadata_and_call_lines(tmp_path: Path) -> None:
    loki = FakeLoki()
    server, endpoint = loki.serve_http()
    try:
        with run_service(config(tmp_path, f"{{endpoint: '{endpoint}', {RETRY}}}")) as running:
            spans = genai_spans(20, service="support-bot", seed=3)
            _post(running.http, "/v1/traces", spans.SerializeToString())
            _post(running.http, "/v1/logs", log_records(5, service="support-bot").SerializeToString())
            wait_for(lambda: len(loki.entries) == 25)
    finally:
        server.shutdown()
    labels = Counter(e.labels for e in loki.entries)
    assert all(set(re.findall(r'(\w+)="', selector)) <= {"service_name", "gen_ai_provider_name",
                                                          "gen_ai_request_model", "level"} for selector in labels)
    assert '{level="info", service_name="support-bot"}' in labels, "application logs: service and level only"
    calls = [e for e in loki.entries if e.metadata.get("event_name") == "llmtap.llm_call"]
    assert len(calls) == 20
    by_span = {s.span_id.hex(): s for s in spans.resource_spans[0].scope_spans[0].spans}
    priced = 0
    for call in calls:
        span = by_span[call.metadata["span_id"]]
        assert call.metadata["trace_id"] == span.trace_id.hex(), "Grafana jumps from the line to the trace"
        fields = dict(part.split("=", 1) for part in shlex.split(call.line))
        model = next(kv_.value.string_value for kv_ in span.attributes if kv_.key == "gen_ai.request.model")
        tokens = next(kv_.value.int_value for kv_ in span.attributes if kv_.key == "gen_ai.usage.input_tokens")
        assert fields["operation"] == "chat" and fields["input_tokens"] == str(tokens)
        assert f'gen_ai_request_model="{model}"' in call.labels and "user_id" not in call.labels
        assert call.metadata["user_id"].startswith("user-"), "high-cardinality values go to structured metadata"
        assert call.ts == span.start_time_unix_nano
        priced += float(fields.get("cost_usd", 0)) > 0
    assert priced >= 10, "calls of models with a known price carry their cost in the line"
    for selector in labels:
        stream = [e.ts for e in loki.entries if e.labels == selector]
        assert stream == sorted(stream)


def test_rate_limited_then_delivered_once(tmp_path: Path) -> None:
    loki = FakeLoki()
    loki.answers.extend([(429, {"Retry-After": "1"}), (503, {})])
    server, endpoint = loki.serve_http()
    try:
        with run_service(config(tmp_path, f"{{endpoint: '{endpoint}', {RETRY}}}")) as running:
            _post(running.http, "/v1/logs", log_records(30).SerializeToString())
            wait_for(lambda: len(loki.entries) == 30)
    finally:
        server.shutdown()
    assert len({e.line for e in loki.entries}) == 30 and len(loki.attempts) == 3
    assert loki.attempts[1] - loki.attempts[0] >= 0.9, "Retry-After was honoured"


def test_long_lines_are_cut_to_the_limit(tmp_path: Path) -> None:
    loki = FakeLoki(max_line_size=1000)
    server, endpoint = loki.serve_http()
    request = log_records(2)
    request.resource_logs[0].scope_logs[0].log_records[0].body.string_value = "é" * 5000
    try:
        with run_service(config(tmp_path, f"{{endpoint: '{endpoint}', max_line_bytes: 1000, {RETRY}}}")) as running:
            _post(running.http, "/v1/logs", request.SerializeToString())
            wait_for(lambda: len(loki.entries) == 2)
    finally:
        server.shutdown()
    assert max(len(e.line.encode()) for e in loki.entries) <= 1000
    assert any(e.line.startswith("éé") for e in loki.entries)


def test_tenants_from_a_resource_attribute(tmp_path: Path) -> None:
    loki = FakeLoki()
    server, endpoint = loki.serve_http()
    settings = f"{{endpoint: '{endpoint}', tenant: {{from_resource_attribute: tenant, default: shared}}, {RETRY}}}"
    try:
        with run_service(config(tmp_path, settings)) as running:
            for tenant in ("acme", "globex", None):
                request = log_records(4)
                if tenant:
                    request.resource_logs[0].resource.attributes.append(kv("tenant", tenant))
                _post(running.http, "/v1/logs", request.SerializeToString())
            wait_for(lambda: len(loki.entries) == 12)
    finally:
        server.shutdown()
    assert Counter(e.tenant for e in loki.entries) == {"acme": 4, "globex": 4, "shared": 4}


def test_otlp_mode_sends_the_logs_as_they_are(tmp_path: Path) -> None:
    loki = FakeLoki()
    server, endpoint = loki.serve_http()
    sent = log_records(7)
    try:
        with run_service(config(tmp_path, f"{{endpoint: '{endpoint}', mode: otlp, {RETRY}}}")) as running:
            _post(running.http, "/v1/logs", sent.SerializeToString())
            wait_for(lambda: sum(len(r.resource_logs[0].scope_logs[0].log_records) for _, r in loki.otlp) == 7)
    finally:
        server.shutdown()
    [(_, received)] = loki.otlp
    assert received == sent


@pytest.mark.parametrize("bad", ["{mode: push}", "{endpoint: 'http://loki:3100', mode: syslog}"])
def test_config_errors(tmp_path: Path, bad: str) -> None:
    from llmtap.collector.config import ConfigError
    from llmtap.collector.service import parse_config

    with pytest.raises(ConfigError):
        parse_config(config(tmp_path, bad))


def test_a_refused_push_is_not_retried_and_is_counted(tmp_path: Path) -> None:
    loki = FakeLoki()
    loki.answers.append((400, {}))
    server, endpoint = loki.serve_http()
    try:
        with run_service(config(tmp_path, f"{{endpoint: '{endpoint}', {RETRY}}}")) as running:
            _post(running.http, "/v1/logs", log_records(6).SerializeToString())
            registry = running.service.telemetry.registry
            wait_for(lambda: registry.get_sample_value("llmtap_exporter_dropped_items_total",
                                                       {"queue": "loki/logs"}) == 6)
            _post(running.http, "/v1/logs", log_records(4).SerializeToString())
            wait_for(lambda: len(loki.entries) == 4)
    finally:
        server.shutdown()
    assert len(loki.attempts) == 2, "one attempt for the refused push, one for the next"

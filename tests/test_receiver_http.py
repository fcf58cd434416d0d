"""OTLP/HTTP: the SDK's own exporter, hand-written JSON, and every kind of bad body."""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import zstandard
from google.rpc import status_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from llmtap.collector.signals import Signal
from tests.conftest import Running, free_port, memory_config, run_service
from tests.otlp_data import genai_spans, log_records

PB = {"Content-Type": "application/x-protobuf"}


def test_sdk_http_exporter_delivers(collector: Running) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "sdk-http"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{collector.http}/v1/traces")))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("chat gpt-4o", attributes={"gen_ai.operation.name": "chat"}), \
            tracer.start_as_current_span("inner"):
        pass
    provider.shutdown()
    exporter = collector.exporter()
    deadline = time.monotonic() + 10
    while exporter.items(Signal.TRACES) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    spans = [s for m in exporter.messages(Signal.TRACES) for rs in m.resource_spans for ss in rs.scope_spans
             for s in ss.spans]
    assert sorted(s.name for s in spans) == ["chat gpt-4o", "inner"]


JSON_BODY = {
    "resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-app"}}]},
        "scopeSpans": [{
            "scope": {"name": "hand"},
            "spans": [
                {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
                 "parentSpanId": "eee19b7ec3c1b173", "name": "chat gpt-4o", "kind": 3,
                 "startTimeUnixNano": "1544712660000000000", "endTimeUnixNano": "1544712661000000000",
                 "attributes": [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}},
                                {"key": "gen_ai.request.temperature", "value": {"doubleValue": 0.5}}],
                 "status": {"code": 2, "message": "rate limited"}},
                {"traceId": "5b8efff7980381", "spanId": "eee19b7ec3c1b174", "name": "bad trace id length"},
            ],
        }],
    }],
}


def test_json_body_as_the_spec_shows_with_partial_success(collector: Running) -> None:
    r = requests.post(f"{collector.http}/v1/traces", json=JSON_BODY)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"partialSuccess": {"rejectedSpans": "1", "errorMessage": r.json()["partialSuccess"]
                                           ["errorMessage"]}}
    assert "16 bytes" in r.json()["partialSuccess"]["errorMessage"]
    time.sleep(0.3)
    [message] = collector.exporter().messages(Signal.TRACES)
    span = message.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id.hex() == "5b8efff798038103d269b633813fc60c"
    assert span.start_time_unix_nano == 1544712660000000000
    assert span.attributes[0].value.int_value == 12
    assert span.kind == 3 and span.status.code == 2


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd", "identity"])
def test_compressed_bodies(collector: Running, encoding: str) -> None:
    raw = genai_spans(20).SerializeToString()
    compress: dict[str, Callable[[bytes], bytes]] = {
        "gzip": gzip.compress, "deflate": zlib.compress, "zstd": zstandard.compress, "identity": lambda b: b}
    body = compress[encoding](raw)
    r = requests.post(f"{collector.http}/v1/traces", data=body, headers={**PB, "Content-Encoding": encoding})
    assert r.status_code == 200, r.content
    response = ExportTraceServiceResponse.FromString(r.content)
    assert not response.HasField("partial_success")
    time.sleep(0.3)
    assert collector.exporter().items(Signal.TRACES) == 20


def _status(r: requests.Response) -> status_pb2.Status:
    return status_pb2.Status.FromString(r.content)


def test_bad_requests_get_the_right_answer(collector: Running) -> None:
    url = f"{collector.http}/v1/traces"
    good = genai_spans(5).SerializeToString()
    r = requests.post(url, data=b"\xff\xff\xff not protobuf", headers=PB)
    assert r.status_code == 400 and "not a valid OTLP protobuf" in _status(r).message
    r = requests.post(url, data=good[: len(good) // 2], headers=PB)
    assert r.status_code == 400, "a truncated body does not decode"
    r = requests.post(url, data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == 3
    r = requests.post(url, data=json.dumps([1, 2]), headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = requests.post(url, data=good, headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = requests.post(url, data=good, headers={**PB, "Content-Encoding": "br"})
    assert r.status_code == 415 and "Content-Encoding" in _status(r).message
    r = requests.post(url, data=b"\x1f\x8b garbage", headers={**PB, "Content-Encoding": "gzip"})
    assert r.status_code == 400
    r = requests.post(url, data=gzip.compress(good)[:-10], headers={**PB, "Content-Encoding": "gzip"})
    assert r.status_code == 400
    r = requests.post(url, data=b"x" * (2 * 2**20), headers=PB)
    assert r.status_code == 413
    r = requests.post(url, data=iter([b"x" * 2**19] * 4), headers=PB)  # chunked: no length to refuse up front
    assert r.status_code == 413 and "exceeds" in _status(r).message
    bomb = gzip.compress(b"\0" * (50 * 2**20))  # 50 MiB of zeros in ~50 KiB
    r = requests.post(url, data=bomb, headers={**PB, "Content-Encoding": "gzip"})
    assert r.status_code == 413 and "decompressed" in _status(r).message
    assert requests.post(f"{collector.http}/v1/spans", data=good, headers=PB).status_code == 404
    assert requests.get(url).status_code == 405
    assert collector.exporter().items(Signal.TRACES) == 0, "nothing from a refused request is queued"


def test_logs_and_empty_requests(collector: Running) -> None:
    r = requests.post(f"{collector.http}/v1/logs", data=log_records(7).SerializeToString(), headers=PB)
    assert r.status_code == 200
    r = requests.post(f"{collector.http}/v1/metrics", data=b"", headers=PB)
    assert r.status_code == 200, "an empty request is valid and accepted"
    time.sleep(0.3)
    assert collector.exporter().items(Signal.LOGS) == 7


def test_bearer_token(tmp_path: Path) -> None:
    auth = ", auth: {bearer_token: s3cret}"
    with run_service(memory_config(free_port(), free_port(), tmp_path, extra_receiver=auth)) as c:
        body = genai_spans(1).SerializeToString()
        r = requests.post(f"{c.http}/v1/traces", data=body, headers=PB)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
        r = requests.post(f"{c.http}/v1/traces", data=body, headers={**PB, "Authorization": "Bearer wrong"})
        assert r.status_code == 401
        r = requests.post(f"{c.http}/v1/traces", data=body, headers={**PB, "Authorization": "Bearer s3cret"})
        assert r.status_code == 200


def test_backpressure_when_the_queue_is_full(tmp_path: Path) -> None:
    exporter = "{sending_queue: {persistent: false, max_bytes: 30KiB}, batch: {min_items: 1, flush_interval: 1ms}}"
    with run_service(memory_config(free_port(), free_port(), tmp_path, exporter=exporter)) as c:
        backend = c.exporter()
        backend.gate.clear()  # the backend hangs: the queue fills
        body = genai_spans(40).SerializeToString()  # ~20 KiB
        codes = []
        for _ in range(6):
            r = requests.post(f"{c.http}/v1/traces", data=body, headers=PB)
            codes.append(r.status_code)
            if r.status_code == 429:
                assert int(r.headers["Retry-After"]) >= 1
                assert "queue full" in _status(r).message
        accepted = codes.count(200)
        assert 429 in codes and accepted >= 1
        backend.gate.set()
        deadline = time.monotonic() + 10
        while backend.items(Signal.TRACES) < accepted * 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert backend.items(Signal.TRACES) == accepted * 40, "every acknowledged span arrives, no refused one"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=2048), content_type=st.sampled_from(["application/x-protobuf", "application/json"]),
       encoding=st.sampled_from(["", "gzip", "deflate", "zstd"]))
def test_fuzzed_bodies_never_get_a_server_error(collector: Running, body: bytes, content_type: str,
                                                encoding: str) -> None:
    headers = {"Content-Type": content_type}
    if encoding:
        headers["Content-Encoding"] = encoding
    r = requests.post(f"{collector.http}/v1/logs", data=body, headers=headers, timeout=10)
    assert r.status_code in (200, 400, 413, 415), r.content


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                        lambda children: st.lists(children, max_size=4)
                        | st.dictionaries(st.sampled_from(["resourceSpans", "scopeSpans", "spans", "traceId",
                                                           "spanId", "name", "attributes", "key", "value",
                                                           "stringValue", "kind"]), children, max_size=4),
                        max_leaves=20))
def test_fuzzed_json_documents_never_get_a_server_error(collector: Running, doc: object) -> None:
    r = requests.post(f"{collector.http}/v1/traces", data=json.dumps(doc), headers={"Content-Type":
                                                                                    "application/json"}, timeout=10)
    assert r.status_code in (200, 400), r.content

"""OTLP/gRPC: the SDK's own exporter, backpressure with RetryInfo, authentication, size limit."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from llmtap.collector.signals import Signal
from tests.conftest import Running, free_port, memory_config, run_service, wait_for
from tests.otlp_data import genai_spans


def test_sdk_grpc_exporters_deliver_all_signals(collector: Running) -> None:
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=collector.grpc, insecure=True)))
    with tp.get_tracer("t").start_as_current_span("embeddings text-embedding-3-small"):
        pass
    tp.shutdown()
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=collector.grpc, insecure=True))
    mp = MeterProvider(metric_readers=[reader])
    mp.get_meter("m").create_histogram("gen_ai.client.operation.duration", unit="s").record(1.5)
    mp.get_meter("m").create_counter("calls").add(3)
    mp.shutdown()
    lp = LoggerProvider()
    lp.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=collector.grpc, insecure=True)))
    lp.get_logger("l").emit(body="hello from the SDK")
    lp.shutdown()
    backend = collector.exporter()
    wait_for(lambda: backend.items(Signal.TRACES) == 1 and backend.items(Signal.METRICS) == 2
             and backend.items(Signal.LOGS) == 1, timeout=10)
    record = backend.messages(Signal.LOGS)[0].resource_logs[0].scope_logs[0].log_records[0]
    assert record.body.string_value == "hello from the SDK"


def _stub(target: str) -> trace_service_pb2_grpc.TraceServiceStub:
    return trace_service_pb2_grpc.TraceServiceStub(grpc.insecure_channel(target))  # type: ignore[no-untyped-call]


def test_partial_success_for_invalid_spans(collector: Running) -> None:
    request = genai_spans(3)
    request.resource_spans[0].scope_spans[0].spans[1].span_id = b"\x01\x02"
    response = _stub(collector.grpc).Export(request, timeout=10)
    assert response.partial_success.rejected_spans == 1
    assert "span_id" in response.partial_success.error_message
    wait_for(lambda: collector.exporter().items(Signal.TRACES) == 2, timeout=10)


def test_backpressure_is_resource_exhausted_with_retry_info(tmp_path: Path) -> None:
    exporter = "{sending_queue: {persistent: false, max_bytes: 30KiB}, batch: {min_items: 1, flush_interval: 1ms}}"
    with run_service(memory_config(free_port(), free_port(), tmp_path, exporter=exporter)) as c:
        c.exporter().gate.clear()
        stub = _stub(c.grpc)
        codes = []
        for _ in range(6):
            try:
                stub.Export(genai_spans(40), timeout=10)
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as err:
                codes.append(err.code())
                assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                status = rpc_status.from_call(err)
                assert status is not None
                info = error_details_pb2.RetryInfo()
                assert status.details[0].Unpack(info)
                assert info.retry_delay.seconds >= 1
        assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes and grpc.StatusCode.OK in codes
        c.exporter().gate.set()
        accepted = codes.count(grpc.StatusCode.OK) * 40
        wait_for(lambda: c.exporter().items(Signal.TRACES) == accepted, timeout=10)


def test_shutting_down_is_unavailable(tmp_path: Path) -> None:
    with run_service(memory_config(free_port(), free_port(), tmp_path)) as c:
        receiver = c.service.receivers["otlp"]
        c.call(receiver.stop_accepting())  # type: ignore[attr-defined]
        with pytest.raises(grpc.RpcError) as err:
            _stub(c.grpc).Export(genai_spans(1), timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_bearer_token_and_size_limit(tmp_path: Path) -> None:
    config = memory_config(free_port(), free_port(), tmp_path, extra_receiver=", auth: {bearer_token: s3cret}",
                           extra_grpc=", max_recv_msg_size: 64KiB")
    with run_service(config) as c:
        stub = _stub(c.grpc)
        with pytest.raises(grpc.RpcError) as err:
            stub.Export(genai_spans(1), timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        meta = (("authorization", "Bearer s3cret"),)
        stub.Export(genai_spans(1), timeout=10, metadata=meta)
        with pytest.raises(grpc.RpcError) as err:
            stub.Export(genai_spans(200, content_bytes=1000), timeout=10, metadata=meta)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        time.sleep(0.3)
        assert c.exporter().items(Signal.TRACES) == 1

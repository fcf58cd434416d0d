"""The receiver's in-flight budget: over it, requests on both transports are refused at once, and it frees up
when a request ends, however it ends."""

from __future__ import annotations

import socket
from pathlib import Path

import grpc
import requests
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from llmtap.collector.receivers.otlp.receiver import OTLPReceiver
from llmtap.collector.signals import Signal
from tests.conftest import Running, free_port, memory_config, run_service, wait_for
from tests.otlp_data import genai_spans

PB = {"Content-Type": "application/x-protobuf"}
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _config(tmp_path: Path, limit: str) -> str:
    text = memory_config(free_port(), free_port(), tmp_path)
    return text.replace("  otlp:\n    protocols:", f"  otlp:\n    max_inflight_bytes: {limit}\n    protocols:")


def _receiver(c: Running) -> OTLPReceiver:
    receiver = c.service.receivers["otlp"]
    assert isinstance(receiver, OTLPReceiver)
    return receiver


def _stalled_request(c: Running, declared: int, sent: int) -> socket.socket:
    """A client that announces `declared` body bytes, sends `sent` of them and stops."""
    host, port = c.http.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    head = (f"POST /v1/traces HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-protobuf\r\n"
            f"Content-Length: {declared}\r\n\r\n")
    sock.sendall(head.encode() + b"\n" * sent)
    return sock


def test_busy_receiver_refuses_both_transports_at_once_and_frees_up(tmp_path: Path) -> None:
    with run_service(_config(tmp_path, "100KiB")) as c:
        admission = _receiver(c).admission
        body = genai_spans(40).SerializeToString()  # ~20 KiB
        # A client that announces a large body and stalls holds what it sent, not what it announced: two such
        # connections must not be enough to shut everyone else out.
        slowloris = _stalled_request(c, 1_000_000, 100)
        wait_for(lambda: admission.in_flight == 100, timeout=10)
        stalled = _stalled_request(c, 95_000, 90_000)
        wait_for(lambda: admission.in_flight == 90_100, timeout=10)

        r = requests.post(f"{c.http}/v1/traces", data=body, headers=PB, timeout=10)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert "busy" in status_pb2.Status.FromString(r.content).message
        stub = trace_service_pb2_grpc.TraceServiceStub(grpc.insecure_channel(c.grpc))  # type: ignore[no-untyped-call]
        try:
            stub.Export(genai_spans(40), timeout=10)
            raise AssertionError("a busy receiver took a gRPC request")
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            status = rpc_status.from_call(err)
            assert status is not None
            info = error_details_pb2.RetryInfo()
            assert status.details[0].Unpack(info) and info.retry_delay.seconds >= 1
        busy = c.service.telemetry.registry.get_sample_value
        assert busy("llmtap_receiver_busy_refusals_total",
                    {"receiver": "otlp", "transport": "http", "signal": "traces"}) == 1
        assert busy("llmtap_receiver_busy_refusals_total",
                    {"receiver": "otlp", "transport": "grpc", "signal": "traces"}) == 1
        assert admission.in_flight == 90_100, "refused requests hold nothing"

        stalled.close()  # the clients go away mid-body: their shares are given back
        slowloris.close()
        wait_for(lambda: admission.in_flight == 0, timeout=10)
        assert requests.post(f"{c.http}/v1/traces", data=body, headers=PB, timeout=10).status_code == 200
        stub.Export(genai_spans(40), timeout=10)
        # A request larger than the whole budget is taken when it is alone (else it never would be).
        big = genai_spans(400).SerializeToString()
        assert len(big) > 100 * 1024
        assert requests.post(f"{c.http}/v1/traces", data=big, headers=PB, timeout=10).status_code == 200
        assert admission.in_flight == 0
        wait_for(lambda: c.exporter().items(Signal.TRACES) == 480, timeout=10)


def test_grpc_request_that_does_not_decode_is_invalid_argument(collector: Running) -> None:
    channel = grpc.insecure_channel(collector.grpc)
    export = channel.unary_unary(EXPORT)  # bytes in, bytes out
    try:
        export(b"\x0a\xff\xff\xff", timeout=10)
        raise AssertionError("a body that does not decode was taken")
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "not a valid OTLP protobuf traces request" in (err.details() or "")
    wait_for(lambda: _receiver(collector).admission.in_flight == 0, timeout=10)  # given back after the answer
    reply = export(genai_spans(3).SerializeToString(), timeout=10)
    assert reply == b"", "an empty ExportTraceServiceResponse: no partial success"
    wait_for(lambda: collector.exporter().items(Signal.TRACES) == 3, timeout=10)

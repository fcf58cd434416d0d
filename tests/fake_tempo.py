"""A stand-in for Grafana Tempo's distributor: OTLP/HTTP and OTLP/gRPC trace receivers that decode what they
get with the OTLP protobuf schema, record the tenant header, and answer as told (status codes, Retry-After)."""

from __future__ import annotations

import gzip
import time
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.fake_backend import FakeBackend
from tests.tls import TLSFiles


@dataclass
class Received:
    tenant: str | None
    request: ExportTraceServiceRequest
    at: float


@dataclass
class FakeTempo(FakeBackend):
    """gRPC maps told answers 503 to UNAVAILABLE, 429 to RESOURCE_EXHAUSTED and 400 to INVALID_ARGUMENT."""

    received: list[Received] = field(default_factory=list)

    def spans(self) -> list[Any]:
        with self.lock:
            return [s for r in self.received for rs in r.request.resource_spans for ss in rs.scope_spans
                    for s in ss.spans]

    def record(self, tenant: str | None, body: bytes) -> None:
        with self.lock:
            self.received.append(Received(tenant, ExportTraceServiceRequest.FromString(body), time.monotonic()))

    # -- OTLP/HTTP (FakeBackend.serve_http) -------------------------------------------------------
    def accept(self, path: str, headers: Any, body: bytes) -> tuple[int, bytes]:
        if path != "/v1/traces":
            return 404, b"404 page not found"
        if headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.record(headers.get("X-Scope-OrgID"), body)
        return 200, ExportTraceServiceResponse().SerializeToString()

    # -- OTLP/gRPC --------------------------------------------------------------------------------
    def serve_grpc(self, tls: TLSFiles | None = None) -> tuple[grpc.Server, str]:
        tempo = self
        codes = {503: grpc.StatusCode.UNAVAILABLE, 429: grpc.StatusCode.RESOURCE_EXHAUSTED,
                 400: grpc.StatusCode.INVALID_ARGUMENT}

        class Servicer(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                told = tempo.next_answer()
                if told is not None:
                    context.abort(codes[told[0]], f"status {told[0]}")
                metadata = dict(context.invocation_metadata())
                tempo.record(metadata.get("x-scope-orgid"), request.SerializeToString())
                return ExportTraceServiceResponse()

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Servicer(), server)  # type: ignore[no-untyped-call]
        if tls is None:
            port = server.add_insecure_port("127.0.0.1:0")
        else:
            credentials = grpc.ssl_server_credentials([(tls.key.read_bytes(), tls.cert.read_bytes())])
            port = server.add_secure_port("127.0.0.1:0", credentials)
        server.start()
        return server, f"127.0.0.1:{port}"

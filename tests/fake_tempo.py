"""A stand-in for Grafana Tempo's distributor: OTLP/HTTP and OTLP/gRPC trace receivers that decode what they
get with the OTLP protobuf schema, record the tenant header, and answer as told (status codes, Retry-After)."""

from __future__ import annotations

import gzip
import ssl
import threading
import time
from collections import deque
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.tls import TLSFiles


@dataclass
class Received:
    tenant: str | None
    request: ExportTraceServiceRequest
    at: float


@dataclass
class FakeTempo:
    received: list[Received] = field(default_factory=list)
    answers: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    """Answers to give before going back to 200 (HTTP status, headers); gRPC maps 503 to UNAVAILABLE,
    429 to RESOURCE_EXHAUSTED and 400 to INVALID_ARGUMENT."""
    attempts: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def spans(self) -> list[Any]:
        with self.lock:
            return [s for r in self.received for rs in r.request.resource_spans for ss in rs.scope_spans
                    for s in ss.spans]

    def next_answer(self) -> tuple[int, dict[str, str]]:
        with self.lock:
            self.attempts.append(time.monotonic())
            return self.answers.popleft() if self.answers else (200, {})

    def record(self, tenant: str | None, body: bytes) -> None:
        with self.lock:
            self.received.append(Received(tenant, ExportTraceServiceRequest.FromString(body), time.monotonic()))

    # -- OTLP/HTTP --------------------------------------------------------------------------------
    def serve_http(self, tls: TLSFiles | None = None) -> tuple[ThreadingHTTPServer, str]:
        tempo = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                status, headers = tempo.next_answer()
                if self.path != "/v1/traces":
                    status = 404
                if status == 200:
                    tempo.record(self.headers.get("X-Scope-OrgID"), body)
                    payload = ExportTraceServiceResponse().SerializeToString()
                else:
                    payload = f"status {status}".encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls.cert, tls.key)
            server.socket = context.wrap_socket(server.socket, server_side=True)
            scheme = "https"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"{scheme}://127.0.0.1:{server.server_address[1]}"

    # -- OTLP/gRPC --------------------------------------------------------------------------------
    def serve_grpc(self, tls: TLSFiles | None = None) -> tuple[grpc.Server, str]:
        tempo = self
        codes = {503: grpc.StatusCode.UNAVAILABLE, 429: grpc.StatusCode.RESOURCE_EXHAUSTED,
                 400: grpc.StatusCode.INVALID_ARGUMENT}

        class Servicer(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                status, _ = tempo.next_answer()
                if status != 200:
                    context.abort(codes[status], f"status {status}")
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

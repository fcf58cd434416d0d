"""A stand-in for Grafana Loki: the push API (protobuf + snappy, decoded with Loki's own push.proto compiled by
protoc) and the OTLP endpoint, with Loki's checks (entries in order per stream, line size limit, tenant
header) and answers as told (429 with Retry-After, 5xx)."""

from __future__ import annotations

import gzip
import importlib
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cramjam
from grpc_tools import protoc  # type: ignore[import-untyped]
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest


def _compile_push_proto() -> Any:
    out = Path(tempfile.mkdtemp(prefix="loki-proto-"))
    here = Path(__file__).parent
    include = Path(protoc.__file__).parent / "_proto"
    code = protoc.main(["protoc", f"-I{here}", f"-I{include}", f"--python_out={out}", str(here / "loki_push.proto")])
    assert code == 0, "protoc could not compile loki_push.proto"
    sys.path.insert(0, str(out))
    try:
        return importlib.import_module("loki_push_pb2")
    finally:
        sys.path.remove(str(out))


push_pb2 = _compile_push_proto()


@dataclass
class Entry:
    tenant: str | None
    labels: str
    ts: int
    line: str
    metadata: dict[str, str]


@dataclass
class FakeLoki:
    max_line_size: int = 256 * 1024
    entries: list[Entry] = field(default_factory=list)
    otlp: list[tuple[str | None, ExportLogsServiceRequest]] = field(default_factory=list)
    answers: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    attempts: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        loki = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with loki.lock:
                    loki.attempts.append(time.monotonic())
                    status, headers = loki.answers.popleft() if loki.answers else (204, {})
                tenant = self.headers.get("X-Scope-OrgID")
                if status < 300:
                    status, message = loki.accept(self.path, self.headers, body, tenant)
                else:
                    message = "try later"
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                payload = message.encode()
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}"

    def accept(self, path: str, headers: Any, body: bytes, tenant: str | None) -> tuple[int, str]:
        if path == "/otlp/v1/logs":
            if headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            with self.lock:
                self.otlp.append((tenant, ExportLogsServiceRequest.FromString(body)))
            return 200, ""
        if path != "/loki/api/v1/push":
            return 404, "404 page not found"
        if headers.get("Content-Type") != "application/x-protobuf" or headers.get("Content-Encoding") != "snappy":
            return 415, "unsupported content"
        request = push_pb2.PushRequest.FromString(bytes(cramjam.snappy.decompress_raw(body)))
        received = []
        for stream in request.streams:
            last = 0
            for e in stream.entries:
                ts = e.timestamp.seconds * 1_000_000_000 + e.timestamp.nanos
                if ts < last:
                    return 400, f"entry out of order for stream {stream.labels}"
                if len(e.line.encode()) > self.max_line_size:
                    return 400, "max line size exceeded"
                last = ts
                received.append(Entry(tenant, stream.labels, ts, e.line,
                                      {m.name: m.value for m in e.structuredMetadata}))
        with self.lock:
            self.entries.extend(received)
        return 204, ""

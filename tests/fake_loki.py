"""A stand-in for Grafana Loki: the push API (protobuf + snappy, decoded with Loki's own push.proto compiled by
protoc) and the OTLP endpoint, with Loki's checks (entries in order per stream, line size limit, tenant
header) and answers as told (429 with Retry-After, 5xx)."""

from __future__ import annotations

import gzip
import importlib
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cramjam
from grpc_tools import protoc  # type: ignore[import-untyped]
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from tests.fake_backend import FakeBackend


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
class FakeLoki(FakeBackend):
    max_line_size: int = 256 * 1024
    entries: list[Entry] = field(default_factory=list)
    otlp: list[tuple[str | None, ExportLogsServiceRequest]] = field(default_factory=list)

    def accept(self, path: str, headers: Any, body: bytes) -> tuple[int, bytes]:
        tenant = headers.get("X-Scope-OrgID")
        if path == "/otlp/v1/logs":
            if headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            with self.lock:
                self.otlp.append((tenant, ExportLogsServiceRequest.FromString(body)))
            return 200, b""
        if path != "/loki/api/v1/push":
            return 404, b"404 page not found"
        if headers.get("Content-Type") != "application/x-protobuf" or headers.get("Content-Encoding") != "snappy":
            return 415, b"unsupported content"
        request = push_pb2.PushRequest.FromString(bytes(cramjam.snappy.decompress_raw(body)))
        received = []
        for stream in request.streams:
            last = 0
            for e in stream.entries:
                ts = e.timestamp.seconds * 1_000_000_000 + e.timestamp.nanos
                if ts < last:
                    return 400, f"entry out of order for stream {stream.labels}".encode()
                if len(e.line.encode()) > self.max_line_size:
                    return 400, b"max line size exceeded"
                last = ts
                received.append(Entry(tenant, stream.labels, ts, e.line,
                                      {m.name: m.value for m in e.structuredMetadata}))
        with self.lock:
            self.entries.extend(received)
        return 204, b""

"""Sending one serialized OTLP request over OTLP/HTTP or OTLP/gRPC, with the OTLP specification's retry rules:
429, 502, 503, 504 (HTTP) and UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED, DEADLINE_EXCEEDED... (gRPC) are
retried, honouring `Retry-After` / `RetryInfo`; every other failure is permanent. Shared by the exporters
that speak OTLP (`tempo`, and `loki` in OTLP mode); `HTTPClient` also carries Loki's pushes and Prometheus'
remote writes, with their own retryable statuses."""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc
import requests

from llmtap.collector.queue import PermanentError, RetryableError
from llmtap.collector.signals import Signal

OTLP_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_RETRY_GRPC = frozenset({grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED,
                         grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DATA_LOSS,
                         grpc.StatusCode.RESOURCE_EXHAUSTED})
_GRPC_METHOD = {Signal.TRACES: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                Signal.METRICS: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
                Signal.LOGS: "/opentelemetry.proto.collector.logs.v1.LogsService/Export"}
_HTTP_PATH = {Signal.TRACES: "/v1/traces", Signal.METRICS: "/v1/metrics", Signal.LOGS: "/v1/logs"}


def _retry_after(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to the exponential backoff


class HTTPClient:
    def __init__(self, url: str, signal: Signal, *, gzip_body: bool, timeout: float, headers: Mapping[str, str],
                 ca_file: str | None = None, cert_file: str | None = None, key_file: str | None = None,
                 verify: bool = True, retry_statuses: frozenset[int] = OTLP_RETRY_STATUSES):
        base = url.rstrip("/")
        self.url = base if base.count("/") > 2 else base + _HTTP_PATH[signal]
        self.gzip = gzip_body
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update({"Content-Type": "application/x-protobuf"})
        if gzip_body:
            self.session.headers["Content-Encoding"] = "gzip"
        self.session.headers.update(headers)
        # Passed with each request: a session-wide `verify` loses to REQUESTS_CA_BUNDLE in the environment.
        self.verify: bool | str = ca_file if (ca_file and verify) else verify
        self.cert = (cert_file, key_file) if cert_file and key_file else None
        self.retry_statuses = retry_statuses

    def send(self, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        data = gzip.compress(body, compresslevel=5) if self.gzip else body
        try:
            response = self.session.post(self.url, data=data, headers=dict(headers or {}), timeout=self.timeout,
                                         verify=self.verify, cert=self.cert)
        except requests.RequestException as exc:
            raise RetryableError(f"{self.url}: {type(exc).__name__}: {exc}") from None
        if response.status_code < 300:
            return
        message = f"{self.url}: HTTP {response.status_code}: {response.text[:300]}"
        if response.status_code in self.retry_statuses:
            raise RetryableError(message, retry_after=_retry_after(response.headers.get("Retry-After")))
        raise PermanentError(message)

    def close(self) -> None:
        self.session.close()


class GRPCClient:
    def __init__(self, endpoint: str, signal: Signal, *, gzip_body: bool, timeout: float,
                 headers: Mapping[str, str], insecure: bool, ca_file: str | None = None,
                 cert_file: str | None = None, key_file: str | None = None):
        options = [("grpc.max_send_message_length", 64 * 2**20)]
        if insecure:
            self.channel = grpc.insecure_channel(endpoint, options=options)
        else:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=Path(ca_file).read_bytes() if ca_file else None,
                private_key=Path(key_file).read_bytes() if key_file else None,
                certificate_chain=Path(cert_file).read_bytes() if cert_file else None)
            self.channel = grpc.secure_channel(endpoint, credentials, options=options)
        self.call = self.channel.unary_unary(_GRPC_METHOD[signal], request_serializer=None,
                                             response_deserializer=None)
        self.compression = grpc.Compression.Gzip if gzip_body else grpc.Compression.NoCompression
        self.timeout = timeout
        self.headers = [(k.lower(), v) for k, v in headers.items()]
        self.endpoint = endpoint

    def send(self, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        metadata = self.headers + [(k.lower(), v) for k, v in (headers or {}).items()]
        try:
            self.call(body, timeout=self.timeout, metadata=metadata, compression=self.compression)
        except grpc.RpcError as exc:
            code: Any = exc.code()  # type: ignore[attr-defined]
            message = f"{self.endpoint}: {code.name}: {exc.details()}"  # type: ignore[attr-defined]
            if code in _RETRY_GRPC:
                raise RetryableError(message, retry_after=_grpc_retry_delay(exc)) from None
            raise PermanentError(message) from None

    def close(self) -> None:
        self.channel.close()


def _grpc_retry_delay(exc: Any) -> float | None:
    """The server's `google.rpc.RetryInfo`, if it sent one."""
    from google.rpc import error_details_pb2, status_pb2

    for key, value in exc.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                    info = error_details_pb2.RetryInfo()
                    detail.Unpack(info)
                    return float(info.retry_delay.seconds + info.retry_delay.nanos / 1e9)
    return None

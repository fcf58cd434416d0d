"""Settings of the OTLP receiver, named as the Go Collector's `confighttp` / `configgrpc` name them."""

from __future__ import annotations

from llmtap.collector.config import ByteSize, Model


class TLSServerConfig(Model):
    cert_file: str
    key_file: str
    client_ca_file: str | None = None
    """Require and verify client certificates signed by this CA (mutual TLS)."""


class AuthConfig(Model):
    bearer_token: str
    """Clients must send `Authorization: Bearer <token>`; others get 401 / UNAUTHENTICATED."""


class GRPCConfig(Model):
    endpoint: str = "127.0.0.1:4317"
    max_recv_msg_size: ByteSize = 16 * 2**20
    tls: TLSServerConfig | None = None
    auth: AuthConfig | None = None


class HTTPConfig(Model):
    endpoint: str = "127.0.0.1:4318"
    max_request_body_size: ByteSize = 20 * 2**20
    """Largest body accepted, compressed or decompressed (a gzip bomb stops here): 413 beyond."""
    tls: TLSServerConfig | None = None
    auth: AuthConfig | None = None


class Protocols(Model):
    grpc: GRPCConfig | None = None
    http: HTTPConfig | None = None


class OTLPReceiverConfig(Model):
    protocols: Protocols = Protocols(grpc=GRPCConfig(), http=HTTPConfig())
    max_inflight_bytes: ByteSize = 32 * 2**20
    """Bytes of requests (decompressed) being read and processed at once, both transports together; a
    request beyond it is refused at once with 429 / RESOURCE_EXHAUSTED and a retry delay. Bounds memory and
    how long an acknowledgement can take under overload (about this over the processing rate: 32 MiB is about
    3 s with content and every processor on, well inside the SDKs' 10 s export timeout)."""

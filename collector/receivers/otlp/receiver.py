"""What both OTLP transports share: validate, hand to the pipelines, count, and answer."""

from __future__ import annotations

import hmac
import logging
import ssl
from dataclasses import dataclass

from llmtap.collector.component import BackpressureError, Factory, Host, Receiver
from llmtap.collector.receivers.otlp.admission import Admission
from llmtap.collector.receivers.otlp.config import AuthConfig, OTLPReceiverConfig, TLSServerConfig
from llmtap.collector.signals import Batch, Response, Signal, drop_invalid
from llmtap.collector.telemetry import SelfTelemetry

log = logging.getLogger("llmtap.receiver.otlp")

REFUSAL_REASONS = ("queue_full", "queue_write_failed", "invalid", "shutting_down")
"""The `reason` label of llmtap_receiver_refused_items."""


@dataclass
class Outcome:
    response: Response
    accepted: int
    rejected: int


class OTLPReceiver(Receiver):
    def __init__(self, component_id: str, config: OTLPReceiverConfig):
        super().__init__(component_id)
        self.config = config
        self.telemetry: SelfTelemetry | None = None
        self._servers: list[object] = []
        self.accepting = False
        self.admission = Admission(config.max_inflight_bytes)

    async def start(self, host: Host) -> None:
        from llmtap.collector.receivers.otlp.grpc import GRPCServer
        from llmtap.collector.receivers.otlp.http import HTTPServer

        self.telemetry = host.telemetry
        self.telemetry.add_admission(self.id, lambda: self.admission.in_flight, self.admission.limit)
        protocols = self.config.protocols
        if protocols.grpc is not None:
            grpc_server = GRPCServer(self, protocols.grpc)
            await grpc_server.start()
            self._servers.append(grpc_server)
        if protocols.http is not None:
            http_server = HTTPServer(self, protocols.http)
            await http_server.start()
            self._servers.append(http_server)
        self._zero_counters([t for t in ("grpc", "http") if getattr(protocols, t) is not None])
        self.accepting = True

    def _zero_counters(self, transports: list[str]) -> None:
        """Every counter this receiver may raise exists from the start at 0, so `rate()` and `increase()` see
        the first refusal instead of a series that appears out of nowhere (and dashboards show 0, not "no data")."""
        if self.telemetry is None:
            return
        for transport in transports:
            for signal in Signal:
                self.telemetry.accepted.labels(self.id, transport, signal.value)
                for reason in REFUSAL_REASONS:
                    self.telemetry.refused.labels(self.id, transport, signal.value, reason)
                self.telemetry.busy.labels(self.id, transport, signal.value)

    async def stop_accepting(self) -> None:
        """First step of shutdown: new requests get 503 / UNAVAILABLE (retry elsewhere or later)."""
        self.accepting = False

    async def shutdown(self) -> None:
        self.accepting = False
        for server in reversed(self._servers):
            await server.stop()  # type: ignore[attr-defined]
        self._servers.clear()

    async def handle(self, signal: Signal, batch: Batch, transport: str) -> Outcome:
        """Validate and queue one request; raises BackpressureError when it cannot be taken now."""
        if not self.accepting:
            self.count_refused(signal, transport, batch.items, "shutting_down")
            raise BackpressureError("the collector is shutting down", retry_after=5.0, unavailable=True)
        rejection = drop_invalid(batch)
        consume = self.consumers.get(signal)
        if consume is None:
            # No pipeline takes this signal from this receiver: accepted and discarded, as the Go Collector does.
            response = signal.response_type()
        else:
            if batch.items:
                try:
                    await consume(batch)
                except BackpressureError as exc:
                    self.count_refused(signal, transport, batch.items, exc.reason)
                    raise
            response = signal.response_type()
        if rejection.count or rejection.reason:
            ps = response.partial_success
            setattr(ps, f"rejected_{signal.item_name}", rejection.count)
            ps.error_message = rejection.reason
            self.count_refused(signal, transport, rejection.count, "invalid")
        if self.telemetry is not None:
            self.telemetry.accepted.labels(self.id, transport, signal.value).inc(batch.items)
        return Outcome(response, batch.items, rejection.count)

    def admit(self, signal: Signal, transport: str, held: int, wanted: int) -> None:
        """Take `wanted` bytes of the in-flight budget for a request holding `held`; raises BackpressureError
        (and counts the refusal) when the receiver already holds its limit."""
        if self.admission.resize(held, wanted):
            return
        if self.telemetry is not None:
            self.telemetry.busy.labels(self.id, transport, signal.value).inc()
        raise BackpressureError(f"the collector is busy: {self.admission.in_flight} bytes of requests in flight "
                                f"(max_inflight_bytes {self.admission.limit})", retry_after=1.0)

    def count_refused(self, signal: Signal, transport: str, items: int, reason: str) -> None:
        if self.telemetry is not None and items:
            self.telemetry.refused.labels(self.id, transport, signal.value, reason).inc(items)

    def count_request(self, signal: Signal, transport: str, code: str) -> None:
        if self.telemetry is not None:
            self.telemetry.requests.labels(self.id, transport, signal.value, code).inc()


def bearer_ok(auth: AuthConfig | None, header: str | None) -> bool:
    if auth is None:
        return True
    if not header or not header.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), auth.bearer_token.encode())


def server_ssl_context(tls: TLSServerConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.client_ca_file:
        ctx.load_verify_locations(tls.client_ca_file)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


factory: Factory[OTLPReceiverConfig] = Factory(
    type="otlp", config=OTLPReceiverConfig, create=lambda cid, cfg: OTLPReceiver(cid, cfg)
)

"""OTLP/gRPC: the trace, metrics and logs `Export` services.

Backpressure is `RESOURCE_EXHAUSTED` (busy or queue full) or `UNAVAILABLE` (shutting down), each with a
`google.rpc.RetryInfo` so clients know when to come back; a bad bearer token is `UNAUTHENTICATED`, a
request that does not decode `INVALID_ARGUMENT`. Messages over `max_recv_msg_size` are refused by gRPC
itself with `RESOURCE_EXHAUSTED`. Requests arrive as bytes and are parsed here: their size counts against
the receiver's in-flight budget, and unchanged requests are queued as received, without re-serialising.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from llmtap.collector.component import BackpressureError
from llmtap.collector.receivers.otlp.config import GRPCConfig
from llmtap.collector.receivers.otlp.receiver import OTLPReceiver, bearer_ok
from llmtap.collector.signals import Batch, Signal

log = logging.getLogger("llmtap.receiver.otlp.grpc")


_SERVICES = {Signal.TRACES: trace_service_pb2.DESCRIPTOR.services_by_name["TraceService"],
             Signal.METRICS: metrics_service_pb2.DESCRIPTOR.services_by_name["MetricsService"],
             Signal.LOGS: logs_service_pb2.DESCRIPTOR.services_by_name["LogsService"]}


def _serialize(response: Any) -> bytes:
    return response.SerializeToString()  # type: ignore[no-any-return]


class GRPCServer:
    def __init__(self, receiver: OTLPReceiver, config: GRPCConfig):
        self.receiver = receiver
        self.config = config
        self._server: grpc.aio.Server | None = None

    async def start(self) -> None:
        size = self.config.max_recv_msg_size
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", size), ("grpc.so_reuseport", 0)])
        for signal, service in _SERVICES.items():
            # No request deserializer: the handler gets the wire bytes.
            export = grpc.unary_unary_rpc_method_handler(self._handler(signal), response_serializer=_serialize)
            server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name,
                                                                                  {"Export": export}),))
        if self.config.tls is not None:
            tls = self.config.tls
            with open(tls.key_file, "rb") as k, open(tls.cert_file, "rb") as c:
                pair = [(k.read(), c.read())]
            ca = open(tls.client_ca_file, "rb").read() if tls.client_ca_file else None  # noqa: SIM115
            creds = grpc.ssl_server_credentials(pair, root_certificates=ca, require_client_auth=ca is not None)
            port = server.add_secure_port(self.config.endpoint, creds)
        else:
            port = server.add_insecure_port(self.config.endpoint)
        if port == 0:
            raise OSError(f"cannot listen on {self.config.endpoint}")
        await server.start()
        self._server = server
        log.info("OTLP/gRPC receiver on %s", self.config.endpoint)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=2.0)
            self._server = None

    def _handler(self, signal: Signal):  # type: ignore[no-untyped-def]
        async def export(data: bytes, context: grpc.aio.ServicerContext) -> Any:
            return await self.export(signal, data, context)

        return export

    async def export(self, signal: Signal, data: bytes, context: grpc.aio.ServicerContext) -> Any:
        metadata = dict(context.invocation_metadata() or ())
        if not bearer_ok(self.config.auth, metadata.get("authorization")):
            self.receiver.count_request(signal, "grpc", "UNAUTHENTICATED")
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid bearer token")
        held = 0
        try:
            self.receiver.admit(signal, "grpc", 0, len(data))
            held = len(data)
            message = signal.request_type()
            try:
                message.ParseFromString(data)
            except (DecodeError, RecursionError) as exc:
                self.receiver.count_request(signal, "grpc", "INVALID_ARGUMENT")
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                    f"not a valid OTLP protobuf {signal.value} request: {exc}")
            outcome = await self.receiver.handle(signal, Batch(signal, message, data=data), "grpc")
        except BackpressureError as exc:
            code = code_pb2.UNAVAILABLE if exc.unavailable else code_pb2.RESOURCE_EXHAUSTED
            self.receiver.count_request(signal, "grpc", code_pb2.Code.Name(code))
            await context.abort_with_status(rpc_status.to_status(_status_with_retry(code, str(exc), exc.retry_after)))
        finally:
            self.receiver.admission.release(held)
        self.receiver.count_request(signal, "grpc", "OK")
        return outcome.response


def _status_with_retry(code: int, message: str, retry_after: float) -> status_pb2.Status:
    seconds = max(1, math.ceil(retry_after))
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds)))
    return status_pb2.Status(code=code, message=message, details=[detail])

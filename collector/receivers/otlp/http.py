"""OTLP/HTTP: `POST /v1/traces`, `/v1/metrics`, `/v1/logs`, binary protobuf or JSON, optionally compressed.

Answers as the OTLP specification says: the response has the request's content type; errors carry a
`google.rpc.Status`; 400 for bodies that do not decode, 413 over the size limit (also after
decompression, so a gzip bomb is refused, not expanded), 415 for other content types or encodings,
429 or 503 with `Retry-After` under backpressure, never a 500 for client input.
"""

from __future__ import annotations

import io
import json
import logging
import math
import zlib
from typing import Any

from aiohttp import web
from google.protobuf.message import DecodeError
from google.rpc import status_pb2

from llmtap.collector.component import BackpressureError
from llmtap.collector.receivers.otlp.config import HTTPConfig
from llmtap.collector.receivers.otlp.receiver import OTLPReceiver, bearer_ok, server_ssl_context
from llmtap.collector.signals import Batch, Signal, parse_json, to_json
from llmtap.collector.telemetry import split_endpoint

log = logging.getLogger("llmtap.receiver.otlp.http")

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

# google.rpc.Code values used in error bodies
_CODE = {400: 3, 401: 16, 413: 8, 415: 3, 429: 8, 503: 14}


class BodyError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """Undo `Content-Encoding`, never producing more than `limit` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _inflate(body, limit, gzip=encoding != "deflate")
    if encoding == "zstd":
        import zstandard

        try:
            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body), read_across_frames=True)
            out = reader.read(limit + 1)
        except zstandard.ZstdError as exc:
            raise BodyError(400, f"zstd body does not decompress: {exc}") from None
        if len(out) > limit:
            raise BodyError(413, f"decompressed body exceeds {limit} bytes")
        return out
    raise BodyError(415, f"unsupported Content-Encoding {encoding!r} (gzip, deflate, zstd or identity)")


def _inflate(body: bytes, limit: int, gzip: bool) -> bytes:
    out = bytearray()
    data = body
    try:
        while data:
            # gzip: 16+MAX_WBITS; deflate: zlib-wrapped (auto-detected with 32+), falling back to raw deflate.
            d = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else 32 + zlib.MAX_WBITS)
            try:
                chunk = d.decompress(data, limit + 1 - len(out))
            except zlib.error:
                if gzip or out:
                    raise
                d = zlib.decompressobj(-zlib.MAX_WBITS)
                chunk = d.decompress(data, limit + 1 - len(out))
            out += chunk
            if len(out) > limit or d.unconsumed_tail:
                raise BodyError(413, f"decompressed body exceeds {limit} bytes")
            if not d.eof:
                raise BodyError(400, "compressed body is truncated")
            data = d.unused_data  # a gzip stream may hold several members
    except zlib.error as exc:
        raise BodyError(400, f"body does not decompress: {exc}") from None
    return bytes(out)


class HTTPServer:
    def __init__(self, receiver: OTLPReceiver, config: HTTPConfig):
        self.receiver = receiver
        self.config = config
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=self.config.max_request_body_size)
        for signal in Signal:
            app.router.add_post(f"/v1/{signal.value}", self._handler(signal))
        # auto_decompress off: bodies are inflated by `decompress`, which stops at the size limit (gzip bombs).
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, auto_decompress=False)
        await self._runner.setup()
        host, port = split_endpoint(self.config.endpoint)
        ssl_ctx = server_ssl_context(self.config.tls) if self.config.tls else None
        await web.TCPSite(self._runner, host, port, ssl_context=ssl_ctx, reuse_address=True).start()
        log.info("OTLP/HTTP receiver on %s://%s", "https" if ssl_ctx else "http", self.config.endpoint)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _handler(self, signal: Signal):  # type: ignore[no-untyped-def]
        async def handle(request: web.Request) -> web.Response:
            return await self.export(signal, request)

        return handle

    async def export(self, signal: Signal, request: web.Request) -> web.Response:
        content_type = request.content_type.lower()
        reply_json = content_type == JSON
        held = 0  # bytes of the receiver's in-flight budget this request holds
        try:
            if not bearer_ok(self.config.auth, request.headers.get("Authorization")):
                raise BodyError(401, "missing or invalid bearer token")
            if content_type not in (PROTOBUF, JSON):
                raise BodyError(415, f"unsupported Content-Type {request.content_type!r} ({PROTOBUF} or {JSON})")
            limit = self.config.max_request_body_size
            if request.content_length is not None and request.content_length > limit:
                raise BodyError(413, f"body of {request.content_length} bytes exceeds {limit} bytes")
            # Refused unread when the budget is full (aiohttp then discards the body). A body holds its share as
            # it arrives, so a client that stalls mid-body holds only what it sent, not what it announced.
            self.receiver.admit(signal, "http", 0, 0)
            chunks = []
            async for chunk in request.content.iter_any():
                if held + len(chunk) > limit:
                    raise BodyError(413, f"body exceeds {limit} bytes")
                self.receiver.admit(signal, "http", held, held + len(chunk))
                held += len(chunk)
                chunks.append(chunk)
            body = decompress(b"".join(chunks), request.headers.get("Content-Encoding", ""), limit)
            self.receiver.admit(signal, "http", held, len(body))
            held = len(body)
            batch = self._parse(signal, body, reply_json)
            outcome = await self.receiver.handle(signal, batch, "http")
        except BodyError as exc:
            self.receiver.count_request(signal, "http", str(exc.status))
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return self._status(exc.status, str(exc), reply_json, headers)
        except BackpressureError as exc:
            status = 503 if exc.unavailable else 429
            self.receiver.count_request(signal, "http", str(status))
            retry_after = str(max(1, math.ceil(exc.retry_after)))
            return self._status(status, str(exc), reply_json, {"Retry-After": retry_after})
        finally:
            self.receiver.admission.release(held)
        self.receiver.count_request(signal, "http", "200")
        if reply_json:
            return web.Response(body=json.dumps(to_json(outcome.response)).encode(), content_type=JSON)
        return web.Response(body=outcome.response.SerializeToString(), content_type=PROTOBUF)

    @staticmethod
    def _parse(signal: Signal, body: bytes, is_json: bool) -> Batch:
        if is_json:
            try:
                document: Any = json.loads(body)
                return Batch(signal, parse_json(signal, document))
            except (ValueError, RecursionError) as exc:
                raise BodyError(400, f"body is not a valid OTLP/JSON {signal.value} request: {exc}") from None
        message = signal.request_type()
        try:
            message.ParseFromString(body)
        except (DecodeError, RecursionError) as exc:
            raise BodyError(400, f"body is not a valid OTLP protobuf {signal.value} request: {exc}") from None
        return Batch(signal, message, data=body)

    @staticmethod
    def _status(status: int, message: str, as_json: bool, headers: dict[str, str] | None = None) -> web.Response:
        rpc = status_pb2.Status(code=_CODE.get(status, 2), message=message)
        if as_json:
            return web.Response(status=status, body=json.dumps({"code": rpc.code, "message": message}).encode(),
                                content_type=JSON, headers=headers)
        return web.Response(status=status, body=rpc.SerializeToString(), content_type=PROTOBUF, headers=headers)

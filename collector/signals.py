"""OTLP requests as they move through llmtap: one `Batch` per export request, per signal.

A batch keeps the request's wire bytes next to the parsed message, so that a request nobody changed
is queued and exported as the very bytes that arrived: serialising again is work saved on the hot path.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from enum import Enum
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

Request = ExportTraceServiceRequest | ExportMetricsServiceRequest | ExportLogsServiceRequest
Response = ExportTraceServiceResponse | ExportMetricsServiceResponse | ExportLogsServiceResponse


class Signal(str, Enum):
    TRACES = "traces"
    METRICS = "metrics"
    LOGS = "logs"

    @property
    def request_type(self) -> type[Request]:
        return _REQUEST[self]

    @property
    def response_type(self) -> type[Response]:
        return _RESPONSE[self]

    @property
    def item_name(self) -> str:
        """What the OTLP spec counts for this signal (spans, data points, log records)."""
        return {"traces": "spans", "metrics": "data_points", "logs": "log_records"}[self.value]


_REQUEST: dict[Signal, type[Request]] = {
    Signal.TRACES: ExportTraceServiceRequest,
    Signal.METRICS: ExportMetricsServiceRequest,
    Signal.LOGS: ExportLogsServiceRequest,
}
_RESPONSE: dict[Signal, type[Response]] = {
    Signal.TRACES: ExportTraceServiceResponse,
    Signal.METRICS: ExportMetricsServiceResponse,
    Signal.LOGS: ExportLogsServiceResponse,
}


class Batch:
    """One OTLP export request of one signal, parsed at most once and serialised at most once.

    Either form may be the current one: a processor changes the message (then calls `changed()`), or, faster,
    the bytes (`wire.append_to_spans`, then `replace_data()`): the message is then parsed again only if
    someone reads it."""

    __slots__ = ("_data", "_message", "items", "signal")

    def __init__(self, signal: Signal, message: Request | None, data: bytes | None = None,
                 items: int | None = None):
        if message is None and (data is None or items is None):
            raise ValueError("a Batch without its message needs its bytes and item count")
        self.signal = signal
        self._message = message
        self._data = data
        self.items = count_items(signal, message) if items is None else items

    @property
    def message(self) -> Request:
        if self._message is None:
            assert self._data is not None
            self._message = self.signal.request_type.FromString(self._data)
        return self._message

    def data(self) -> bytes:
        """The request's wire bytes (the received ones, unless the request was changed)."""
        if self._data is None:
            self._data = self.message.SerializeToString()
        return self._data

    @property
    def received(self) -> bytes | None:
        """The current wire bytes if there are some without serialising (as received, or as a processor left
        them); None for JSON, or once the message was changed."""
        return self._data

    def changed(self) -> None:
        """Call after changing `message`: drops the cached bytes and recounts the items."""
        self._data = None
        self.items = count_items(self.signal, self.message)

    def replace_data(self, data: bytes) -> None:
        """Call with the request's new bytes after editing them (same items): the message is parsed again from
        them when next read."""
        self._data = data
        self._message = None

    def copy(self) -> Batch:
        if self._message is None:
            return Batch(self.signal, None, self._data, self.items)  # bytes are immutable: shared
        message = self.signal.request_type()
        message.CopyFrom(self._message)  # type: ignore[arg-type]
        return Batch(self.signal, message, self._data, self.items)


def count_items(signal: Signal, message: Any) -> int:
    if signal is Signal.TRACES:
        return sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)
    if signal is Signal.LOGS:
        return sum(len(sl.log_records) for rl in message.resource_logs for sl in rl.scope_logs)
    total = 0
    for rm in message.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                if kind is not None:
                    total += len(getattr(metric, kind).data_points)
    return total


# --------------------------------------------------------------------------------------------
# Validation: what the OTLP spec lets a receiver reject item by item (partial success)


@dataclass
class Rejection:
    count: int = 0
    reason: str = ""

    def add(self, n: int, reason: str) -> None:
        self.count += n
        if not self.reason:
            self.reason = reason


def _bad_id(value: bytes, size: int, required: bool) -> bool:
    return len(value) != size if (required or value) else False


def drop_invalid(batch: Batch) -> Rejection:
    """Remove items whose ids have the wrong length, counting them for `partial_success`."""
    rejected = Rejection()
    message: Any = batch.message
    if batch.signal is Signal.TRACES:
        for rs in message.resource_spans:
            for ss in rs.scope_spans:
                bad = [
                    i for i, span in enumerate(ss.spans)
                    if len(span.trace_id) != 16 or len(span.span_id) != 8 or _bad_id(span.parent_span_id, 8, False)
                ]
                for i in reversed(bad):
                    del ss.spans[i]
                if bad:
                    rejected.add(len(bad), "span with a trace_id that is not 16 bytes or a span_id that is not 8 bytes")
    elif batch.signal is Signal.LOGS:
        for rl in message.resource_logs:
            for sl in rl.scope_logs:
                bad = [
                    i for i, rec in enumerate(sl.log_records)
                    if _bad_id(rec.trace_id, 16, False) or _bad_id(rec.span_id, 8, False)
                ]
                for i in reversed(bad):
                    del sl.log_records[i]
                if bad:
                    rejected.add(len(bad), "log record with a trace_id that is not 16 bytes "
                                           "or a span_id that is not 8 bytes")
    else:
        for rm in message.resource_metrics:
            for sm in rm.scope_metrics:
                bad = [i for i, metric in enumerate(sm.metrics) if not metric.name]
                for i in reversed(bad):
                    metric = sm.metrics[i]
                    kind = metric.WhichOneof("data")
                    rejected.add(len(getattr(metric, kind).data_points) if kind else 0, "metric without a name")
                    del sm.metrics[i]
    if rejected.count or rejected.reason:
        batch.changed()
    return rejected


# --------------------------------------------------------------------------------------------
# OTLP/JSON: ids are hex, not base64 as protobuf's JSON mapping would have them

_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _hex_ids_to_base64(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                try:
                    raw = bytes.fromhex(value)
                except ValueError:
                    raw = b"\x00"  # not hex: becomes an id of the wrong length, rejected item by item
                node[key] = base64.b64encode(raw).decode()
            elif isinstance(value, (dict, list)):
                _hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, list)):
                _hex_ids_to_base64(item)


def parse_json(signal: Signal, document: Any) -> Request:
    """Parse an OTLP/JSON body (already `json.loads`-ed); raises ValueError when it does not fit."""
    from google.protobuf import json_format

    if not isinstance(document, dict):
        raise ValueError("the body must be a JSON object")
    _hex_ids_to_base64(document)
    message = signal.request_type()
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, TypeError, RecursionError) as exc:
        raise ValueError(str(exc)) from None
    return message


def to_json(message: Any) -> dict[str, Any]:
    """A response message in the OTLP/JSON mapping (lowerCamelCase; int64 as strings)."""
    from google.protobuf import json_format

    result: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=False)
    return result

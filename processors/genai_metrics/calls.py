"""One `llmtap.llm_call` log record per GenAI span: what `llm_calls` stores and Loki shows per call."""

from __future__ import annotations

import json
import re
import struct
from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import error_attributes

from llmtap import semconv
from llmtap.collector import attributes, wire
from llmtap.collector.wire import SpanRow


def input_preview(value: Any, limit: int) -> str:
    """The last user message's text (what is new in a conversation), else the first text; a value that is
    not a message list is shown as it is. A message's text is its `content` string, else its first text part
    (read in C, `wire.message_preview`, without parsing the list into Python objects: ~1/3 of the connector's
    work per span when it was)."""
    return _preview(value, limit, True)


def output_preview(value: Any, limit: int) -> str:
    return _preview(value, limit, False)


def _preview(value: Any, limit: int, last_user: bool) -> str:
    if not isinstance(value, str):
        return ""
    text = wire.message_preview(value, limit, last_user)
    return value[:limit] if text is None else text


_PLAIN = re.compile(r"[^\s=\"\\]+")


def _logfmt_value(value: Any) -> str:
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    return text if _PLAIN.fullmatch(text) and text.isprintable() else json.dumps(text, ensure_ascii=False)


def logfmt(fields: dict[str, Any]) -> str:
    """`key=value` pairs as Loki's `| logfmt` parses them; empty and None values are left out."""
    return " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items() if v is not None and v != "")


_HEAD = struct.Struct("<BQBQ2s16s2s8sBI")
"""LogRecord.time_unix_nano (1) and observed_time_unix_nano (11), fixed64 each; trace_id (9) and span_id (10)
of the usual 16 and 8 bytes, tag and length first; flags (8), fixed32."""
_TIMES = struct.Struct("<BQBQ")
"""The times alone, for ids of other lengths."""
_SEVERITY = {False: b"\x10\x09\x1a\x04INFO", True: b"\x10\x11\x1a\x05ERROR"}
"""severity_number (2: INFO 9, ERROR 17) and severity_text (3)."""
_EVENT = wire.field(0x62, semconv.LLMTAP_LLM_CALL_EVENT.encode())
"""event_name (12)."""
_FLAGS = struct.Struct("<BI")


def record(span: SpanRow, time_ns: int, extra: dict[str, attributes.Value], error: bool) -> bytes:
    """The record for one span, as LogRecord wire bytes: its ids and start time, the span's attributes it copies
    (`span.copied`, KeyValues as they are) and those in `extra`. No body: exporters that show lines render
    `summary_line`. Built as bytes: the records go to the exporters' queues as bytes, never read here."""
    trace_id, span_id = span.trace_id, span.span_id
    if len(trace_id) == 16 and len(span_id) == 8:
        head = _HEAD.pack(0x09, span.start_time_unix_nano, 0x59, time_ns, b"\x4a\x10", trace_id, b"\x52\x08",
                          span_id, 0x45, span.flags & 0xFF)
    else:
        head = b"".join((_TIMES.pack(0x09, span.start_time_unix_nano, 0x59, time_ns), wire.field(0x4A, trace_id),
                         wire.field(0x52, span_id), _FLAGS.pack(0x45, span.flags & 0xFF)))
    return b"".join((head, _SEVERITY[error], _EVENT, span.copied,
                     wire.encode_attributes(extra, wire.LOG_RECORD_ATTRIBUTES)))


def request(resources: list[tuple[bytes, str]], records: dict[int, list[bytes]], scope: str) -> bytes:
    """An ExportLogsServiceRequest, as wire bytes, of `records` per resource index in `resources` (a
    Resource's bytes and its schema URL), each resource's records in one scope."""
    scope_field = wire.field(0x0A, wire.field(0x0A, scope.encode()))  # ScopeLogs.scope (1): name (1)
    out = []
    for index, recs in records.items():
        resource, schema_url = resources[index]
        scope_logs = scope_field + b"".join(wire.field(0x12, r) for r in recs)  # ScopeLogs.log_records (2)
        resource_logs = wire.field(0x0A, resource) + wire.field(0x12, scope_logs)  # resource (1), scope_logs (2)
        if schema_url:
            resource_logs += wire.field(0x1A, schema_url.encode())  # schema_url (3)
        out.append(wire.field(0x0A, resource_logs))  # ExportLogsServiceRequest.resource_logs (1)
    return b"".join(out)


def summary_line(attrs: dict[str, Any]) -> str:
    """A call's one-line logfmt summary from its record's attributes, for Loki (`| logfmt`)."""
    finish = attrs.get(gen_ai.GEN_AI_RESPONSE_FINISH_REASONS)
    return logfmt({
        "operation": attrs.get(gen_ai.GEN_AI_OPERATION_NAME),
        "provider": attrs.get(gen_ai.GEN_AI_PROVIDER_NAME),
        "model": attrs.get(gen_ai.GEN_AI_RESPONSE_MODEL) or attrs.get(gen_ai.GEN_AI_REQUEST_MODEL),
        "input_tokens": attrs.get(gen_ai.GEN_AI_USAGE_INPUT_TOKENS),
        "output_tokens": attrs.get(gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS),
        "cost_usd": attrs.get(semconv.LLMTAP_COST_USD),
        "duration_s": attrs.get(semconv.LLMTAP_CALL_DURATION),
        "ttft_s": attrs.get(gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK),
        "finish_reason": ",".join(str(r) for r in finish) if isinstance(finish, list) else finish,
        "error_type": attrs.get(error_attributes.ERROR_TYPE),
    })

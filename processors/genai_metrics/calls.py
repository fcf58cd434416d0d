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


def _first_text(message: Any) -> str | None:
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    if isinstance(content, str):  # an OpenAI-shaped message from an older convention
        return content
    parts = message.get("parts")
    if isinstance(parts, list):
        for part in parts:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("content"), str):
                return str(part["content"])
    return None


def _messages(value: Any) -> list[Any] | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, list) else None


def input_preview(value: Any, limit: int) -> str:
    """The last user message's text (what is new in a conversation), else the first text; a value that is
    not a message list is shown as it is."""
    messages = _messages(value)
    if messages is None:
        return value[:limit] if isinstance(value, str) else ""
    first: str | None = None
    last_user: str | None = None
    for message in messages:
        text = _first_text(message)
        if text is None:
            continue
        first = text if first is None else first
        if message.get("role") == "user":
            last_user = text
    return (last_user if last_user is not None else first or "")[:limit]


def output_preview(value: Any, limit: int) -> str:
    messages = _messages(value)
    if messages is None:
        return value[:limit] if isinstance(value, str) else ""
    for message in messages:
        text = _first_text(message)
        if text is not None:
            return text[:limit]
    return ""


_PLAIN = re.compile(r"[^\s=\"\\]+")


def _logfmt_value(value: Any) -> str:
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    return text if _PLAIN.fullmatch(text) and text.isprintable() else json.dumps(text, ensure_ascii=False)


def logfmt(fields: dict[str, Any]) -> str:
    """`key=value` pairs as Loki's `| logfmt` parses them; empty and None values are left out."""
    return " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items() if v is not None and v != "")


_TIMES = struct.Struct("<BQBQ")
"""LogRecord.time_unix_nano (1) and observed_time_unix_nano (11): fixed64 each."""
_SEVERITY = {False: b"\x10\x09\x1a\x04INFO", True: b"\x10\x11\x1a\x05ERROR"}
"""severity_number (2: INFO 9, ERROR 17) and severity_text (3)."""
_EVENT = wire.field(0x62, semconv.LLMTAP_LLM_CALL_EVENT.encode())
"""event_name (12)."""
_FLAGS = struct.Struct("<BI")
"""flags (8): fixed32."""


def record(span: SpanRow, time_ns: int, extra: dict[str, attributes.Value], error: bool) -> bytes:
    """The record for one span, as LogRecord wire bytes: its ids and start time, the span's attributes it copies
    (`span.copied`, KeyValues as they are) and those in `extra`. No body: exporters that show lines render
    `summary_line`. Built as bytes: the records go to the exporters' queues as bytes, never read here."""
    return b"".join((_TIMES.pack(0x09, span.start_time_unix_nano, 0x59, time_ns), _SEVERITY[error], _EVENT,
                     wire.field(0x4A, span.trace_id), wire.field(0x52, span.span_id),
                     _FLAGS.pack(0x45, span.flags & 0xFF), span.copied,
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

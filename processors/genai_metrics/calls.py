"""One `llmtap.llm_call` log record per GenAI span: what `llm_calls` stores and Loki shows per call."""

from __future__ import annotations

import json
import re
from typing import Any

from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, SeverityNumber
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import error_attributes

from llmtap import semconv
from llmtap.collector import attributes
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


def fill_record(record: LogRecord, span: SpanRow, time_ns: int, extra: dict[str, attributes.Value],
                error: bool) -> None:
    """The record for one span: its ids and start time, the span's attributes it copies (`span.copied`,
    KeyValues as they are) and those in `extra`. No body: exporters that show lines render `summary_line`."""
    record.MergeFromString(span.copied)
    record.event_name = semconv.LLMTAP_LLM_CALL_EVENT
    record.time_unix_nano = span.start_time_unix_nano
    record.observed_time_unix_nano = time_ns
    record.trace_id = span.trace_id
    record.span_id = span.span_id
    record.flags = span.flags & 0xFF
    record.severity_number = SeverityNumber.SEVERITY_NUMBER_ERROR if error else SeverityNumber.SEVERITY_NUMBER_INFO
    record.severity_text = "ERROR" if error else "INFO"
    for key, value in extra.items():
        if value is None or value == "":
            continue
        kv = record.attributes.add()
        kv.key = key
        attributes.set_value(kv.value, value)


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

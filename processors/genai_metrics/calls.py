"""One `llmtap.llm_call` log record per GenAI span: what `llm_calls` stores and Loki shows per call.

The records themselves are made in C (`wire.scan_calls`: the span's ids and start time, the attributes it
copies, token counts, status, duration and 200-character previews of the last user message and the first
output message) as LogRecord wire bytes: they go to the exporters' queues as bytes, never read here. The
connector's per-span work was two thirds of its cost in Python."""

from __future__ import annotations

import json
import re
from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import error_attributes

from llmtap import semconv
from llmtap.collector import wire

_PLAIN = re.compile(r"[^\s=\"\\]+")


def _logfmt_value(value: Any) -> str:
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    return text if _PLAIN.fullmatch(text) and text.isprintable() else json.dumps(text, ensure_ascii=False)


def logfmt(fields: dict[str, Any]) -> str:
    """`key=value` pairs as Loki's `| logfmt` parses them; empty and None values are left out."""
    return " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items() if v is not None and v != "")


def request(resources: list[tuple[bytes, str]], records: dict[int, list[bytes]], scope: str) -> bytes:
    """An ExportLogsServiceRequest, as wire bytes, of `records` (LogRecords framed as ScopeLogs.log_records, as
    `wire.scan_calls` makes them) per resource index in `resources` (a Resource's bytes and its schema URL),
    each resource's records in one scope."""
    scope_field = wire.field(0x0A, wire.field(0x0A, scope.encode()))  # ScopeLogs.scope (1): name (1)
    out = []
    for index, recs in records.items():
        resource, schema_url = resources[index]
        scope_logs = scope_field + b"".join(recs)
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

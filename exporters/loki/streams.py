"""OTLP log records as Loki streams: a few attributes as labels, the body as the line, everything else as
structured metadata (as Loki's own OTLP ingestion does), entries in time order per stream."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmtap import semconv
from llmtap.collector.attributes import as_text, value_of
from llmtap.exporters.prometheus.translate import label_name
from llmtap.processors.genai_metrics.calls import summary_line

_LEVELS = ((21, "fatal"), (17, "error"), (13, "warn"), (9, "info"), (5, "debug"), (1, "trace"))


def level(record: Any) -> str:
    if record.severity_text:
        return str(record.severity_text).lower()
    for floor, name in _LEVELS:
        if record.severity_number >= floor:
            return name
    return "unknown"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class Stream:
    labels: str
    entries: list[tuple[int, str, list[tuple[str, str]]]] = field(default_factory=list)


@dataclass
class Streams:
    streams: dict[str, Stream] = field(default_factory=dict)
    truncated: int = 0


def to_streams(requests: list[Any], label_keys: list[str], max_line_bytes: int) -> Streams:
    out = Streams()
    wanted = set(label_keys)
    for request in requests:
        for rl in request.resource_logs:
            resource = {kv.key: as_text(value_of(kv.value)) for kv in rl.resource.attributes}
            resource_metadata = [(label_name(k), v) for k, v in resource.items() if k not in wanted]
            for sl in rl.scope_logs:
                for record in sl.log_records:
                    attrs = {kv.key: value_of(kv.value) for kv in record.attributes}
                    labels: dict[str, str] = {}
                    for key in label_keys:
                        if key == "level":
                            labels["level"] = level(record)
                        elif key in attrs and attrs[key] not in (None, ""):
                            labels[label_name(key)] = as_text(attrs[key])
                        elif resource.get(key):
                            labels[label_name(key)] = resource[key]
                    if not labels:
                        labels["service_name"] = resource.get("service.name", "unknown_service")
                    selector = "{" + ", ".join(f'{k}="{_quote(v)}"' for k, v in sorted(labels.items())) + "}"
                    line = _line(record, attrs)
                    encoded = line.encode()
                    if len(encoded) > max_line_bytes:
                        line = encoded[:max_line_bytes].decode(errors="ignore")
                        out.truncated += 1
                    metadata = [(label_name(k), as_text(v)) for k, v in attrs.items() if k not in wanted]
                    metadata += resource_metadata
                    if record.trace_id:
                        metadata.append(("trace_id", record.trace_id.hex()))
                    if record.span_id:
                        metadata.append(("span_id", record.span_id.hex()))
                    if record.event_name:
                        metadata.append(("event_name", record.event_name))
                    ts = record.time_unix_nano or record.observed_time_unix_nano
                    stream = out.streams.setdefault(selector, Stream(selector))
                    stream.entries.append((ts, line, metadata))
    for stream in out.streams.values():
        stream.entries.sort(key=lambda e: e[0])
    return out


def _line(record: Any, attrs: dict[str, Any]) -> str:
    """The body as text; an `llmtap.llm_call` record (no body) gets its logfmt summary, so Loki's `| logfmt`
    reads model, tokens, cost and latency, and `trace_id` links to Tempo."""
    if record.event_name == semconv.LLMTAP_LLM_CALL_EVENT and not record.HasField("body"):
        return summary_line(attrs)
    return as_text(value_of(record.body)) if record.HasField("body") else ""

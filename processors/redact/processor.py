"""`RedactProcessor`: replaces PII and secrets in content attributes of spans, span events and log records,
and in log bodies, and flags each item it found something in.

A protobuf trace request whose bytes hold no content key and no PII flag (content capture is off by default)
is passed on without reading its spans (collector/wire.py); so is one whose content, read from its bytes and
scanned in one pass, has nothing any detector could match (`wire.content_text`, `Scanner.clean`)."""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from llmtap import semconv
from llmtap.collector import attributes, wire
from llmtap.collector.component import Host, Processor
from llmtap.collector.signals import Batch, Signal
from llmtap.collector.telemetry import SelfTelemetry
from llmtap.collector.wire import KeyPrefilter
from llmtap.processors.redact.config import RedactConfig
from llmtap.processors.redact.scanner import Scanner

_FLAGS = frozenset({semconv.LLMTAP_PII_DETECTED, semconv.LLMTAP_PII_TYPES})
_OTHER, _CONTENT, _FLAG = 0, 1, 2
_MAX_KEYS = 10_000
"""Attribute keys whose kind is remembered."""


def _content_keys(config: RedactConfig) -> tuple[dict[str, bool], tuple[bytes, ...]] | None:
    """The content keys as `wire.content_text` takes them (exact keys, and the flags as true; prefixes); None
    when a glob is more than a key or a prefix."""
    split = wire.exact_and_prefixes(config.attributes)
    if split is None:
        return None
    exact, prefixes = split
    return dict.fromkeys(exact, False) | dict.fromkeys(_FLAGS, True), tuple(p.encode() for p in prefixes)


class RedactProcessor(Processor):
    def __init__(self, component_id: str, config: RedactConfig):
        super().__init__(component_id)
        self.scanner = Scanner(config)
        self._content = re.compile("|".join(fnmatch.translate(g) for g in config.attributes) or "(?!)")
        self._wire = KeyPrefilter.from_globs(config.attributes, whole=_FLAGS)
        self._content_keys = _content_keys(config) if self.scanner.provable else None
        self._keys: dict[str, int] = {}
        """Per attribute key seen: _CONTENT, _FLAG or _OTHER."""
        self._telemetry: SelfTelemetry | None = None
        self.counts: Counter[str] = Counter()
        """Findings per type since start, as reported to self-telemetry."""

    async def start(self, host: Host) -> None:
        self._telemetry = host.telemetry

    async def process(self, batch: Batch) -> Batch | None:
        found: Counter[str] = Counter()
        changed = False
        if batch.signal is Signal.TRACES:
            received = batch.received
            if received is not None and self._wire is not None and not self._wire.maybe_in(received):
                return batch
            if received is not None and self._content_keys is not None:
                text, flagged = wire.content_text(received, *self._content_keys)
                if not flagged and self.scanner.clean(text):
                    return batch  # content, but nothing in it to redact: one scan, no span read
            for _, span in attributes.spans(batch.message):
                types: set[str] = set()
                redacted, forged = self._attributes(span.attributes, types, found)
                for event in span.events:
                    changed |= self._attributes(event.attributes, types, found)[0]
                changed |= redacted | self._flag(span.attributes, types, forged)
        elif isinstance(batch.message, ExportLogsServiceRequest):
            for rl in batch.message.resource_logs:
                for sl in rl.scope_logs:
                    for record in sl.log_records:
                        types = set()
                        redacted, forged = self._attributes(record.attributes, types, found)
                        if record.HasField("body"):
                            changed |= self._value(record.body, types, found)
                        changed |= redacted | self._flag(record.attributes, types, forged)
        if changed:
            batch.changed()
        if found:
            self.counts.update(found)
            if self._telemetry is not None:
                for kind, n in found.items():
                    self._telemetry.redacted.labels(self.id, kind).inc(n)
        return batch

    def _kind(self, key: str) -> int:
        kind = self._keys.get(key)
        if kind is None:
            if len(self._keys) >= _MAX_KEYS:  # keys with ids in them must not grow it without end
                self._keys.clear()
            kind = self._keys[key] = (_FLAG if key in _FLAGS else
                                      _CONTENT if self._content.match(key) is not None else _OTHER)
        return kind

    def _attributes(self, attrs: Any, types: set[str], found: Counter[str]) -> tuple[bool, bool]:
        """Redact the content attributes, in one pass over the keys: (whether any changed, whether a client
        sent one of the flags)."""
        changed = forged = False
        for kv in attrs:
            kind = self._kind(kv.key)
            if kind == _CONTENT:
                changed |= self._value(kv.value, types, found)
            elif kind == _FLAG:
                forged = True
        return changed, forged

    def _value(self, value: AnyValue, types: set[str], found: Counter[str]) -> bool:
        """Redact every string in `value` (recursing into arrays and maps); whether any was changed."""
        kind = value.WhichOneof("value")
        if kind == "string_value":
            original = value.string_value
            text, findings = self.scanner.redact(original)
            for f in findings:
                types.add(f.type)
                found[f.type] += 1
            if text != original:
                value.string_value = text
                return True
            return False
        changed = False
        if kind == "array_value":
            for item in value.array_value.values:
                changed |= self._value(item, types, found)
        elif kind == "kvlist_value":
            for kv in value.kvlist_value.values:
                changed |= self._value(kv.value, types, found)
        return changed

    @staticmethod
    def _flag(attrs: Any, types: set[str], forged: bool) -> bool:
        """Set the server-side flags, after removing any a client sent; whether the attributes changed."""
        if forged:
            attributes.remove(attrs, _FLAGS)
        if types:
            attributes.put(attrs, semconv.LLMTAP_PII_DETECTED, True)
            attributes.put(attrs, semconv.LLMTAP_PII_TYPES, sorted(types))
        return forged or bool(types)

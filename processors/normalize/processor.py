"""`NormalizeProcessor`: spans and log records of other conventions in the current GenAI shape.

Most spans already are: one Hyperscan pass over a protobuf request's bytes (collector/wire.py) shows that none
of its spans can have a foreign key, or else one pass over each span's keys finds nothing foreign and leaves it
untouched.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai

from llmtap.collector import attributes
from llmtap.collector.component import Processor
from llmtap.collector.signals import Batch, Signal
from llmtap.collector.wire import KeyPrefilter
from llmtap.processors.normalize import conventions
from llmtap.processors.normalize.config import NormalizeConfig

_EXACT = conventions.EXACT
_PREFIXES = conventions.PREFIXES
FOREIGN = KeyPrefilter([*_EXACT, *conventions.EVENTS], _PREFIXES)
"""Whether a request's bytes can hold a key or event of another convention."""


def _foreign(attrs: Any) -> bool:
    for kv in attrs:
        key = kv.key
        if key in _EXACT or key.startswith(_PREFIXES):
            return True
    return False


class NormalizeProcessor(Processor):
    def __init__(self, component_id: str, config: NormalizeConfig):
        super().__init__(component_id)
        self.config = config

    async def process(self, batch: Batch) -> Batch | None:
        received = batch.received
        if received is not None and not FOREIGN.maybe_in(received):
            return batch
        changed = False
        message: Any = batch.message
        if batch.signal is Signal.TRACES:
            for rs in message.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        changed |= self.span(span)
        elif batch.signal is Signal.LOGS:
            for rl in message.resource_logs:
                for sl in rl.scope_logs:
                    for record in sl.log_records:
                        changed |= self.log_record(record)
        if changed:
            batch.changed()
        return batch

    def span(self, span: Any) -> bool:
        events = [i for i, e in enumerate(span.events) if e.name in conventions.EVENTS] if span.events else []
        if not events and not _foreign(span.attributes):
            return False
        attrs = {kv.key: attributes.value_of(kv.value) for kv in span.attributes}
        seen = dict(attrs)
        for i in events:  # older per-message events: their prompt and completion, as if attributes
            for kv in span.events[i].attributes:
                if kv.key in ("gen_ai.prompt", "gen_ai.completion") and kv.key not in seen:
                    seen[kv.key] = attributes.value_of(kv.value)
        out: dict[str, Any] = {}
        used: set[str] = set()
        for mapping in conventions.MAPPINGS:
            mapping(seen, out, used)
        if not out and not used:
            return False
        for key, value in out.items():
            attributes.put(span.attributes, key, value)
        if not self.config.keep_originals:
            attributes.remove(span.attributes, used & attrs.keys())
            for i in reversed(events):
                del span.events[i]
        if self.config.rename_spans:
            operation = out.get(gen_ai.GEN_AI_OPERATION_NAME, attrs.get(gen_ai.GEN_AI_OPERATION_NAME))
            model = out.get(gen_ai.GEN_AI_REQUEST_MODEL, attrs.get(gen_ai.GEN_AI_REQUEST_MODEL))
            if operation and model:
                span.name = f"{operation} {model}"
        return True

    def log_record(self, record: Any) -> bool:
        """Log records (events) keep their body; their attributes are renamed, and an event name the older
        Events API put in the `event.name` attribute moves to the record's `event_name`."""
        if not _foreign(record.attributes):
            return False
        attrs = {kv.key: attributes.value_of(kv.value) for kv in record.attributes}
        out: dict[str, Any] = {}
        used: set[str] = set()
        conventions.renames(attrs, out, used)
        if not out and not used:
            return False
        if not record.event_name and isinstance(attrs.get("event.name"), str):
            record.event_name = attrs["event.name"]
            used.add("event.name")
        for key, value in out.items():
            attributes.put(record.attributes, key, value)
        if not self.config.keep_originals:
            attributes.remove(record.attributes, used)
        return True

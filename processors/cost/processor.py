"""`CostProcessor`: prices every GenAI span (one with `gen_ai.operation.name` and token usage) in place."""

from __future__ import annotations

from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai

from llmtap import semconv
from llmtap.collector import attributes, wire
from llmtap.collector.component import Processor
from llmtap.collector.signals import Batch, Signal
from llmtap.processors.cost.book import PriceBook, span_time
from llmtap.processors.cost.config import CostConfig
from llmtap.processors.cost.prices import Usage

_READ = frozenset({gen_ai.GEN_AI_OPERATION_NAME, gen_ai.GEN_AI_PROVIDER_NAME, gen_ai.GEN_AI_REQUEST_MODEL,
                   gen_ai.GEN_AI_RESPONSE_MODEL, gen_ai.GEN_AI_USAGE_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS,
                   gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
                   gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS})
_OURS = frozenset({semconv.LLMTAP_COST_USD, semconv.LLMTAP_COST_INPUT_USD, semconv.LLMTAP_COST_CACHE_READ_USD,
                   semconv.LLMTAP_COST_CACHE_WRITE_USD, semconv.LLMTAP_COST_OUTPUT_USD,
                   semconv.LLMTAP_COST_REASONING_USD, semconv.LLMTAP_COST_SOURCE, semconv.LLMTAP_COST_SOURCE_VERSION,
                   semconv.LLMTAP_COST_UNKNOWN_MODEL, semconv.LLMTAP_COST_CACHE_SAVINGS_USD})
"""Names only the collector sets: whatever a client sent under them is removed (its `llmtap.cost.usd` is kept
as `llmtap.cost.client_usd`)."""
_KEYS = dict.fromkeys(_READ | _OURS, False)
"""What `wire.scan_spans` reads of each span."""


def _count(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        return max(int(value), 0)
    if isinstance(value, str):
        try:
            return max(int(float(value)), 0)
        except ValueError:
            return 0
    return 0


def usage_of(found: dict[str, Any]) -> Usage | None:
    """The span's token counts, or None when it reports none. Counts that cannot be inclusive (cache tokens
    above the input count: a sender that reports Anthropic's uncached `input_tokens`) are made inclusive."""
    keys = (gen_ai.GEN_AI_USAGE_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS)
    if not any(k in found for k in keys):
        return None
    input_tokens = _count(found.get(gen_ai.GEN_AI_USAGE_INPUT_TOKENS))
    output_tokens = _count(found.get(gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS))
    cache_read = _count(found.get(gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS))
    cache_write = _count(found.get(gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS))
    reasoning = _count(found.get(gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS))
    if cache_read + cache_write > input_tokens:
        input_tokens += cache_read + cache_write
    output_tokens = max(output_tokens, reasoning)
    return Usage(input_tokens, output_tokens, cache_read, cache_write, reasoning)


class CostProcessor(Processor):
    def __init__(self, component_id: str, config: CostConfig):
        super().__init__(component_id)
        self.book = PriceBook(config)

    async def process(self, batch: Batch) -> Batch | None:
        if batch.signal is not Signal.TRACES:
            return batch
        changed = False
        resource_spans = batch.message.resource_spans  # type: ignore[union-attr]
        for row in wire.scan_spans(batch.data(), _KEYS, 0):
            if row.found:  # only spans with a key of ours or one pricing reads are looked at
                span = resource_spans[row.resource_index].scope_spans[row.scope_index].spans[row.span_index]
                changed |= self.price(span, row.found)
        if changed:
            batch.changed()
        return batch

    def price(self, span: Any, found: dict[str, Any]) -> bool:
        """Price one span, given the values of its keys in `_READ` and `_OURS`; whether it was changed."""
        client_sent = not _OURS.isdisjoint(found)
        if gen_ai.GEN_AI_OPERATION_NAME not in found and not client_sent:
            return False
        attrs = span.attributes
        if client_sent:
            removed = attributes.remove(attrs, _OURS)
            client_cost = removed.get(semconv.LLMTAP_COST_USD)
            if isinstance(client_cost, int | float) and not isinstance(client_cost, bool):
                attributes.put(attrs, semconv.LLMTAP_COST_CLIENT_USD, float(client_cost))
        usage = usage_of(found) if gen_ai.GEN_AI_OPERATION_NAME in found else None
        if usage is None:
            return client_sent
        provider = str(found.get(gen_ai.GEN_AI_PROVIDER_NAME) or "")
        models = [str(found[k]) for k in (gen_ai.GEN_AI_RESPONSE_MODEL, gen_ai.GEN_AI_REQUEST_MODEL)
                  if found.get(k)]
        price = self.book.find(provider, models, span_time(span.start_time_unix_nano))
        # No llmtap.cost.* key is left on the span (removed above), so new ones are appended, not searched for.
        if price is None:
            _append(attrs, semconv.LLMTAP_COST_UNKNOWN_MODEL).bool_value = True
            return True
        cost = price.cost(usage)
        for key, value in ((semconv.LLMTAP_COST_USD, cost.total), (semconv.LLMTAP_COST_INPUT_USD, cost.input),
                           (semconv.LLMTAP_COST_CACHE_READ_USD, cost.cache_read),
                           (semconv.LLMTAP_COST_CACHE_WRITE_USD, cost.cache_write),
                           (semconv.LLMTAP_COST_OUTPUT_USD, cost.output),
                           (semconv.LLMTAP_COST_REASONING_USD, cost.reasoning)):
            _append(attrs, key).double_value = float(value)
        if cost.cache_savings > 0:
            _append(attrs, semconv.LLMTAP_COST_CACHE_SAVINGS_USD).double_value = float(cost.cache_savings)
        _append(attrs, semconv.LLMTAP_COST_SOURCE).string_value = price.source
        if price.source_version:
            _append(attrs, semconv.LLMTAP_COST_SOURCE_VERSION).string_value = price.source_version
        return True


def _append(attrs: Any, key: str) -> Any:
    """A new attribute `key`; returns its `AnyValue` to set."""
    kv = attrs.add()
    kv.key = key
    return kv.value

"""`CostProcessor`: prices every GenAI span (one with `gen_ai.operation.name` and token usage) in place."""

from __future__ import annotations

from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai

from llmtap import semconv
from llmtap.collector import attributes, wire
from llmtap.collector.component import Processor
from llmtap.collector.signals import Batch, Signal
from llmtap.processors.cost.book import PriceBook
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


def usage_of(found: dict[str, Any]) -> Usage | None:
    """The span's token counts, or None when it reports none. Counts that cannot be inclusive (cache tokens
    above the input count: a sender that reports Anthropic's uncached `input_tokens`) are made inclusive
    (`wire.usage_counts`, the same rule the genai_metrics connector counts with)."""
    if gen_ai.GEN_AI_USAGE_INPUT_TOKENS not in found and gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS not in found:
        return None
    get = found.get
    return Usage(*wire.usage_counts(
        get(gen_ai.GEN_AI_USAGE_INPUT_TOKENS), get(gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS),
        get(gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS), get(gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
        get(gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)))


class CostProcessor(Processor):
    def __init__(self, component_id: str, config: CostConfig):
        super().__init__(component_id)
        self.book = PriceBook(config)

    async def process(self, batch: Batch) -> Batch | None:
        if batch.signal is not Signal.TRACES:
            return batch
        rows = wire.scan_spans(batch.data(), _KEYS, 0)
        if any(not _OURS.isdisjoint(row.found) for row in rows):
            _set_client_costs_apart(batch, rows)
            rows = wire.scan_spans(batch.data(), _KEYS, 0)
        additions = [b""] * len(rows)
        priced = False
        for i, row in enumerate(rows):
            if gen_ai.GEN_AI_OPERATION_NAME in row.found:
                added = self.price(row.found, row.start_time_unix_nano)
                if added:
                    additions[i] = added
                    priced = True
        if priced:
            batch.replace_data(wire.append_to_spans(batch.data(), additions))
        return batch

    def price(self, found: dict[str, Any], start_time_unix_nano: int) -> bytes:
        """The cost attributes of a GenAI span with the values `found` (wire bytes to append to it; none if it
        reports no token usage)."""
        usage = usage_of(found)
        if usage is None:
            return b""
        provider = str(found.get(gen_ai.GEN_AI_PROVIDER_NAME) or "")
        models = tuple(str(found[k]) for k in (gen_ai.GEN_AI_RESPONSE_MODEL, gen_ai.GEN_AI_REQUEST_MODEL)
                       if found.get(k))
        price = self.book.find_at(provider, models, start_time_unix_nano)
        if price is None:
            return _UNKNOWN_MODEL
        cost = price.cost(usage)
        return wire.encode_attributes({
            semconv.LLMTAP_COST_USD: cost.total,
            semconv.LLMTAP_COST_INPUT_USD: cost.input,
            semconv.LLMTAP_COST_CACHE_READ_USD: cost.cache_read,
            semconv.LLMTAP_COST_CACHE_WRITE_USD: cost.cache_write,
            semconv.LLMTAP_COST_OUTPUT_USD: cost.output,
            semconv.LLMTAP_COST_REASONING_USD: cost.reasoning,
            semconv.LLMTAP_COST_CACHE_SAVINGS_USD: cost.cache_savings or None,
            semconv.LLMTAP_COST_SOURCE: price.source,
            semconv.LLMTAP_COST_SOURCE_VERSION: price.source_version or None,  # None: no attribute
        }, wire.SPAN_ATTRIBUTES)


def _set_client_costs_apart(batch: Batch, rows: list[wire.SpanRow]) -> None:
    """Remove what a client sent under llmtap's cost keys (its `llmtap.cost.usd` is kept as
    `llmtap.cost.client_usd`), on the parsed message: rare, so not worth doing on the bytes."""
    resource_spans = batch.message.resource_spans  # type: ignore[union-attr]
    for row in rows:
        if _OURS.isdisjoint(row.found):
            continue
        attrs = resource_spans[row.resource_index].scope_spans[row.scope_index].spans[row.span_index].attributes
        removed = attributes.remove(attrs, _OURS)
        client_cost = removed.get(semconv.LLMTAP_COST_USD)
        if isinstance(client_cost, int | float) and not isinstance(client_cost, bool):
            attributes.put(attrs, semconv.LLMTAP_COST_CLIENT_USD, float(client_cost))
    batch.changed()


_UNKNOWN_MODEL = wire.attribute(semconv.LLMTAP_COST_UNKNOWN_MODEL, True)

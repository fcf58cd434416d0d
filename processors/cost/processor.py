"""`CostProcessor`: prices every GenAI span (one with `gen_ai.operation.name` and token usage) in place."""

from __future__ import annotations

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai

from llmtap import semconv
from llmtap.collector import attributes, wire
from llmtap.collector.component import Processor
from llmtap.collector.signals import Batch, Signal
from llmtap.processors.cost.book import PriceBook
from llmtap.processors.cost.config import CostConfig
from llmtap.processors.cost.prices import Usage

_ROLES = (gen_ai.GEN_AI_OPERATION_NAME, gen_ai.GEN_AI_PROVIDER_NAME, gen_ai.GEN_AI_RESPONSE_MODEL,
          gen_ai.GEN_AI_REQUEST_MODEL, gen_ai.GEN_AI_USAGE_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS,
          gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
          gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)
"""What `wire.scan_usage` reads of each span, in the order its C side names them (`U_OPERATION` ...)."""
_OURS = (semconv.LLMTAP_COST_USD, semconv.LLMTAP_COST_INPUT_USD, semconv.LLMTAP_COST_CACHE_READ_USD,
         semconv.LLMTAP_COST_CACHE_WRITE_USD, semconv.LLMTAP_COST_OUTPUT_USD, semconv.LLMTAP_COST_REASONING_USD,
         semconv.LLMTAP_COST_SOURCE, semconv.LLMTAP_COST_SOURCE_VERSION, semconv.LLMTAP_COST_UNKNOWN_MODEL,
         semconv.LLMTAP_COST_CACHE_SAVINGS_USD)
"""Names only the collector sets: whatever a client sent under them is removed (its `llmtap.cost.usd` is kept
as `llmtap.cost.client_usd`)."""


class CostProcessor(Processor):
    def __init__(self, component_id: str, config: CostConfig):
        super().__init__(component_id)
        self.book = PriceBook(config)

    async def process(self, batch: Batch) -> Batch | None:
        if batch.signal is not Signal.TRACES:
            return batch
        spans, forged, rows = wire.scan_usage(batch.data(), _ROLES, _OURS)
        if forged:
            _set_client_costs_apart(batch)
            spans, _, rows = wire.scan_usage(batch.data(), _ROLES, _OURS)
        additions = [b""] * spans
        priced = False
        for position, start_time_unix_nano, provider, response_model, request_model, counts in rows:
            if counts is not None:
                models = tuple(str(m) for m in (response_model, request_model) if m)
                additions[position] = self.price(str(provider or ""), models, Usage(*counts), start_time_unix_nano)
                priced = True
        if priced:
            batch.replace_data(wire.append_to_spans(batch.data(), additions))
        return batch

    def price(self, provider: str, models: tuple[str, ...], usage: Usage, start_time_unix_nano: int) -> bytes:
        """The cost attributes of a GenAI span of `provider`'s `models` (response model first) with `usage`, as
        wire bytes to append to it."""
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


def _set_client_costs_apart(batch: Batch) -> None:
    """Remove what a client sent under llmtap's cost keys (its `llmtap.cost.usd` is kept as
    `llmtap.cost.client_usd`), on the parsed message: rare, so not worth doing on the bytes."""
    for _, span in attributes.spans(batch.message):
        removed = attributes.remove(span.attributes, _OURS)
        client_cost = removed.get(semconv.LLMTAP_COST_USD)
        if isinstance(client_cost, int | float) and not isinstance(client_cost, bool):
            attributes.put(span.attributes, semconv.LLMTAP_COST_CLIENT_USD, float(client_cost))
    batch.changed()


_UNKNOWN_MODEL = wire.attribute(semconv.LLMTAP_COST_UNKNOWN_MODEL, True)

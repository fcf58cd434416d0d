"""The `cost` processor: hand-checked prices, overrides, unknown models, client-sent costs, and agreement
with `genai-prices`' own calculation on every model it knows."""

from __future__ import annotations

import asyncio
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from llmtap import semconv
from llmtap.collector import attributes
from llmtap.collector.service import parse_config
from llmtap.collector.signals import Batch, Signal
from llmtap.processors.cost import CostConfig, CostProcessor
from llmtap.processors.cost.book import _genai_price
from llmtap.processors.cost.prices import Usage
from tests.conftest import free_port, memory_config, run_service, wait_for
from tests.otlp_data import kv

NOV_2026 = int(datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp() * 1e9)


def request(*spans: dict[str, Any], start: int = NOV_2026) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    scope = req.resource_spans.add().scope_spans.add()
    for i, attrs in enumerate(spans):
        span = scope.spans.add(name=f"chat {i}", trace_id=bytes(16), span_id=(i + 1).to_bytes(8, "big"),
                               start_time_unix_nano=start, end_time_unix_nano=start + 1)
        span.attributes.extend(kv(k, v) for k, v in attrs.items())
    return req


def genai(provider: str, model: str, input_tokens: int, output_tokens: int, cache_read: int = 0,
          cache_write: int = 0, reasoning: int = 0, response_model: str | None = None) -> dict[str, Any]:
    attrs: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
                             "gen_ai.request.model": model, "gen_ai.usage.input_tokens": input_tokens,
                             "gen_ai.usage.output_tokens": output_tokens}
    if response_model:
        attrs["gen_ai.response.model"] = response_model
    for key, count in (("gen_ai.usage.cache_read.input_tokens", cache_read),
                       ("gen_ai.usage.cache_creation.input_tokens", cache_write),
                       ("gen_ai.usage.reasoning.output_tokens", reasoning)):
        if count:
            attrs[key] = count
    return attrs


def priced(*spans: dict[str, Any], config: dict[str, Any] | None = None,
           start: int = NOV_2026) -> list[dict[str, Any]]:
    processor = CostProcessor("cost", CostConfig.model_validate(config or {}))
    batch = asyncio.run(processor.process(Batch(Signal.TRACES, request(*spans, start=start))))
    assert batch is not None
    message = ExportTraceServiceRequest.FromString(batch.data())  # what is exported: the serialised bytes
    return [{kv.key: attributes.value_of(kv.value) for kv in span.attributes}
            for _, span in attributes.spans(message)]


# Each total worked out by hand from the provider's published price list (USD per million tokens).
# Input counts include cached tokens and output counts include reasoning, as the conventions count them.
HAND_CHECKED = [
    # OpenAI gpt-4o: $2.50 input, $1.25 cached input, $10 output
    (genai("openai", "gpt-4o", 1000, 500), 1000 * 2.5e-6 + 500 * 10e-6),                       # 0.0075
    (genai("openai", "gpt-4o", 10_000, 200, cache_read=8_000), 2_000 * 2.5e-6 + 8_000 * 1.25e-6 + 200 * 10e-6),
    # a dated response model resolves to the same prices
    (genai("openai", "gpt-4o", 1000, 100, response_model="gpt-4o-2024-08-06"), 1000 * 2.5e-6 + 100 * 10e-6),
    # gpt-4o-mini: $0.15 / $0.075 cached / $0.60
    (genai("openai", "gpt-4o-mini", 3000, 1000, cache_read=1024), 1976 * 0.15e-6 + 1024 * 0.075e-6 + 1000 * 0.6e-6),
    # o3-mini: $1.10 / $0.55 cached / $4.40; reasoning tokens are output tokens
    (genai("openai", "o3-mini", 500, 2000, reasoning=1500), 500 * 1.1e-6 + 2000 * 4.4e-6),
    # o1: $15 / $7.50 cached / $60
    (genai("openai", "o1", 2000, 3000, cache_read=1000, reasoning=2500), 1000 * 15e-6 + 1000 * 7.5e-6 + 3000 * 60e-6),
    # gpt-4.1: $2 / $0.50 cached / $8
    (genai("openai", "gpt-4.1", 100_000, 1_000, cache_read=50_000), 50_000 * 2e-6 + 50_000 * 0.5e-6 + 1_000 * 8e-6),
    # gpt-5: $1.25 / $0.125 cached / $10
    (genai("openai", "gpt-5", 4000, 800, cache_read=2000, reasoning=600),
     2000 * 1.25e-6 + 2000 * 0.125e-6 + 800 * 10e-6),
    # text-embedding-3-small: $0.02 input
    (genai("openai", "text-embedding-3-small", 10_000, 0), 10_000 * 0.02e-6),
    # Anthropic claude-sonnet-4-5: $3 input, $3.75 cache write (5 min), $0.30 cache read, $15 output
    (genai("anthropic", "claude-sonnet-4-5", 1125, 400, cache_read=1000, cache_write=100),
     25 * 3e-6 + 1000 * 0.3e-6 + 100 * 3.75e-6 + 400 * 15e-6),
    # ... above 200k input tokens: $6 input, $7.50 cache write, $0.60 cache read, $22.50 output
    (genai("anthropic", "claude-sonnet-4-5", 250_000, 1000, cache_read=200_000),
     50_000 * 6e-6 + 200_000 * 0.6e-6 + 1000 * 22.5e-6),
    # claude-opus-4-1: $15 / $18.75 write / $1.50 read / $75
    (genai("anthropic", "claude-opus-4-1", 3000, 1000, cache_write=2000),
     1000 * 15e-6 + 2000 * 18.75e-6 + 1000 * 75e-6),
    # claude-haiku-4-5: $1 / $1.25 write / $0.10 read / $5; thinking tokens are output tokens
    (genai("anthropic", "claude-haiku-4-5", 5000, 3000, cache_read=4000, reasoning=2000),
     1000 * 1e-6 + 4000 * 0.1e-6 + 3000 * 5e-6),
    # claude-3-5-haiku: $0.80 / $1 write / $0.08 read / $4
    (genai("anthropic", "claude-3-5-haiku-latest", 2000, 500), 2000 * 0.8e-6 + 500 * 4e-6),
    # Google gemini-2.5-flash: $0.30 input (text), $0.03 cached, $2.50 output including thinking
    (genai("gcp.gemini", "gemini-2.5-flash", 40, 10, cache_read=10, reasoning=4),
     30 * 0.3e-6 + 10 * 0.03e-6 + 10 * 2.5e-6),
    # gemini-2.5-pro: up to 200k $1.25 / $0.125 cached / $10; above 200k $2.50 / $0.25 / $15
    (genai("gcp.gemini", "gemini-2.5-pro", 10_000, 2_000), 10_000 * 1.25e-6 + 2_000 * 10e-6),
    (genai("gcp.vertex_ai", "gemini-2.5-pro", 300_000, 2_000, cache_read=100_000),
     200_000 * 2.5e-6 + 100_000 * 0.25e-6 + 2_000 * 15e-6),
    # gemini-2.0-flash: $0.10 / $0.025 cached / $0.40
    (genai("gcp.gemini", "gemini-2.0-flash", 8000, 1000), 8000 * 0.1e-6 + 1000 * 0.4e-6),
    # Azure OpenAI: the deployment name is the request model; the response names the model ($2.50 / $10)
    (genai("azure.ai.openai", "prod-chat", 1000, 1000, response_model="gpt-4o"), 1000 * 2.5e-6 + 1000 * 10e-6),
    # AWS Bedrock, Claude 3.5 Sonnet: $3 / $15
    (genai("aws.bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0", 2000, 300), 2000 * 3e-6 + 300 * 15e-6),
    # Bedrock, Amazon Nova Pro: $0.80 / $3.20
    (genai("aws.bedrock", "amazon.nova-pro-v1:0", 10_000, 1_000), 10_000 * 0.8e-6 + 1_000 * 3.2e-6),
    # Mistral Large: $2 / $6; Codestral: $0.30 / $0.90
    (genai("mistral_ai", "mistral-large-latest", 3000, 700), 3000 * 2e-6 + 700 * 6e-6),
    (genai("mistral_ai", "codestral-latest", 5000, 5000), 5000 * 0.3e-6 + 5000 * 0.9e-6),
]


@pytest.mark.parametrize(("span", "expected"), HAND_CHECKED,
                         ids=[f"{s['gen_ai.provider.name']}:{s['gen_ai.request.model']}" for s, _ in HAND_CHECKED])
def test_hand_checked_prices(span: dict[str, Any], expected: float) -> None:
    [attrs] = priced(span)
    assert attrs[semconv.LLMTAP_COST_USD] == pytest.approx(expected, rel=1e-12)
    parts = [attrs[k] for k in (semconv.LLMTAP_COST_INPUT_USD, semconv.LLMTAP_COST_CACHE_READ_USD,
                                semconv.LLMTAP_COST_CACHE_WRITE_USD, semconv.LLMTAP_COST_OUTPUT_USD,
                                semconv.LLMTAP_COST_REASONING_USD)]
    assert sum(parts) == pytest.approx(expected, rel=1e-12)
    assert attrs[semconv.LLMTAP_COST_SOURCE] == "genai-prices"
    assert attrs[semconv.LLMTAP_COST_SOURCE_VERSION]
    assert semconv.LLMTAP_COST_UNKNOWN_MODEL not in attrs


def test_parts_of_a_cached_reasoning_call() -> None:
    [attrs] = priced(genai("openai", "gpt-5", 4000, 800, cache_read=2000, reasoning=600))
    assert attrs[semconv.LLMTAP_COST_INPUT_USD] == pytest.approx(2000 * 1.25e-6)
    assert attrs[semconv.LLMTAP_COST_CACHE_READ_USD] == pytest.approx(2000 * 0.125e-6)
    assert attrs[semconv.LLMTAP_COST_CACHE_WRITE_USD] == 0
    assert attrs[semconv.LLMTAP_COST_OUTPUT_USD] == pytest.approx(200 * 10e-6)
    assert attrs[semconv.LLMTAP_COST_REASONING_USD] == pytest.approx(600 * 10e-6)
    assert attrs[semconv.LLMTAP_COST_CACHE_SAVINGS_USD] == pytest.approx(2000 * (1.25e-6 - 0.125e-6))
    [uncached] = priced(genai("openai", "gpt-5", 4000, 800))
    assert semconv.LLMTAP_COST_CACHE_SAVINGS_USD not in uncached


def test_uncached_anthropic_counts_are_not_counted_twice() -> None:
    # A sender reporting Anthropic's own `input_tokens` (cache excluded) next to the cache counts: the cache
    # counts exceed the input count, so they are added to it rather than subtracted from it.
    [exclusive, inclusive] = priced(genai("anthropic", "claude-sonnet-4-5", 25, 400, cache_read=1000, cache_write=100),
                                    genai("anthropic", "claude-sonnet-4-5", 1125, 400, cache_read=1000,
                                          cache_write=100))
    assert exclusive[semconv.LLMTAP_COST_USD] == inclusive[semconv.LLMTAP_COST_USD]


OVERRIDES = {"overrides": [
    {"name": "acme-ft-2025", "model": "ft:gpt-4o-mini:acme:*", "provider": "openai", "input": 0.30, "output": 1.20,
     "cache_read": 0.15, "effective_from": "2025-01-01"},
    {"name": "acme-ft-2026", "model": "ft:gpt-4o-mini:acme:*", "provider": "openai", "input": 0.20, "output": 0.80,
     "effective_from": "2026-06-01"},
    {"name": "self-hosted", "model": "llama-3*", "input": 0.05, "output": 0.10,
     "tiers": [{"above_input_tokens": 100_000, "input": 0.08}]},
    {"name": "negotiated", "model": "gpt-4o", "provider": "azure.ai.openai", "input": 2.0, "output": 8.0},
]}


def test_overrides_by_pattern_date_and_tier() -> None:
    before = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp() * 1e9)
    ft = genai("openai", "ft:gpt-4o-mini:acme:support:abc123", 10_000, 1_000, cache_read=4_000)
    [old] = priced(ft, config=OVERRIDES, start=before)
    # 6000 x $0.30 + 4000 x $0.15 + 1000 x $1.20
    assert old[semconv.LLMTAP_COST_USD] == pytest.approx(6000 * 0.3e-6 + 4000 * 0.15e-6 + 1000 * 1.2e-6)
    assert old[semconv.LLMTAP_COST_SOURCE] == "override"
    assert old[semconv.LLMTAP_COST_SOURCE_VERSION] == "acme-ft-2025"
    [new] = priced(ft, config=OVERRIDES)  # November 2026: the later price applies; cached reads at input price
    assert new[semconv.LLMTAP_COST_USD] == pytest.approx(10_000 * 0.2e-6 + 1000 * 0.8e-6)
    assert new[semconv.LLMTAP_COST_SOURCE_VERSION] == "acme-ft-2026"
    small, large = priced(genai("ollama", "llama-3.1-8b", 1000, 1000),
                          genai("ollama", "llama-3.1-8b", 200_000, 1000), config=OVERRIDES)
    assert small[semconv.LLMTAP_COST_USD] == pytest.approx(1000 * 0.05e-6 + 1000 * 0.1e-6)
    assert large[semconv.LLMTAP_COST_USD] == pytest.approx(200_000 * 0.08e-6 + 1000 * 0.1e-6)
    [azure] = priced(genai("azure.ai.openai", "gpt-4o", 1000, 1000), config=OVERRIDES)
    assert azure[semconv.LLMTAP_COST_USD] == pytest.approx(1000 * 2e-6 + 1000 * 8e-6)
    [openai_direct] = priced(genai("openai", "gpt-4o", 1000, 1000), config=OVERRIDES)  # provider glob: not Azure
    assert openai_direct[semconv.LLMTAP_COST_USD] == pytest.approx(1000 * 2.5e-6 + 1000 * 10e-6)


def test_unknown_models_are_flagged_not_zero() -> None:
    unknown, self_hosted, no_usage = priced(
        genai("openai", "my-private-model", 100, 100), genai("ollama", "llama3", 100, 100),
        {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"})
    for attrs in (unknown, self_hosted):
        assert attrs[semconv.LLMTAP_COST_UNKNOWN_MODEL] is True
        assert semconv.LLMTAP_COST_USD not in attrs
    assert not any(k.startswith("llmtap.cost") for k in no_usage)  # a failed call without usage costs nothing known


def test_client_sent_cost_is_kept_apart() -> None:
    forged = {**genai("openai", "gpt-4o", 1000, 500), semconv.LLMTAP_COST_USD: 0.0,
              semconv.LLMTAP_COST_SOURCE: "client", semconv.LLMTAP_COST_UNKNOWN_MODEL: True}
    plain_span = {"http.method": "GET", semconv.LLMTAP_COST_USD: 12.5}
    ours, other = priced(forged, plain_span)
    assert ours[semconv.LLMTAP_COST_USD] == pytest.approx(0.0075)
    assert ours[semconv.LLMTAP_COST_CLIENT_USD] == 0.0
    assert ours[semconv.LLMTAP_COST_SOURCE] == "genai-prices"
    assert semconv.LLMTAP_COST_UNKNOWN_MODEL not in ours
    assert other == {"http.method": "GET", semconv.LLMTAP_COST_CLIENT_USD: 12.5}


def _token_priced_models() -> list[tuple[str, str, Any]]:
    from genai_prices import data_snapshot

    when = datetime(2026, 11, 1, tzinfo=timezone.utc)
    out = []
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            try:
                model_price = model.get_prices(when)
            except Exception:
                continue
            if _genai_price(model_price, "test") is not None:
                out.append((provider.id, model.id, model_price))
    return out


MODELS = _token_priced_models()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(MODELS), st.integers(0, 400_000), st.integers(0, 100_000), st.data())
def test_llmtap_arithmetic_equals_genai_prices(model: tuple[str, str, Any], input_tokens: int, output_tokens: int,
                                               data: st.DataObject) -> None:
    from genai_prices import Usage as GenAIUsage

    _, _, model_price = model
    cache_read = data.draw(st.integers(0, input_tokens))
    cache_write = data.draw(st.integers(0, input_tokens - cache_read))
    reasoning = data.draw(st.integers(0, output_tokens))
    expected = model_price.calc_price(GenAIUsage(input_tokens=input_tokens, output_tokens=output_tokens,
                                                 cache_read_tokens=cache_read, cache_write_tokens=cache_write,
                                                 output_reasoning_tokens=reasoning))["total_price"]
    price = _genai_price(model_price, "test")
    assert price is not None
    got = price.cost(Usage(input_tokens, output_tokens, cache_read, cache_write, reasoning)).total
    assert got == float(expected), (model[:2], got, expected)  # the exact cost, rounded once
    assert len(MODELS) > 1000  # the fast path covers nearly every model genai-prices knows


def test_cost_in_the_collector_pipeline(tmp_path: Path) -> None:
    config = memory_config(free_port(), free_port(), tmp_path, processors={"cost": "{}"})
    parse_config(config)
    with run_service(config) as running:
        body = request(genai("anthropic", "claude-haiku-4-5", 2000, 100)).SerializeToString()
        req = urllib.request.Request(f"{running.http}/v1/traces", data=body,
                                     headers={"Content-Type": "application/x-protobuf"})
        with urllib.request.urlopen(req, timeout=10) as response:
            assert response.status == 200
        memory = running.exporter()
        wait_for(lambda: memory.items(Signal.TRACES) == 1)
        [message] = memory.messages(Signal.TRACES)
        [(_, span)] = list(attributes.spans(message))
        found = attributes.pick(span.attributes, {semconv.LLMTAP_COST_USD})
        assert found[semconv.LLMTAP_COST_USD] == pytest.approx(2000 * 1e-6 + 100 * 5e-6)


def test_model_lookups_stay_bounded_and_right() -> None:
    """Model names come from clients: remembering every one looked up must not grow without end, and pricing
    after the cache was emptied must still be right."""
    from llmtap.processors.cost.book import _MAX_MODELS, PriceBook

    book = PriceBook(CostConfig())
    when = datetime(2025, 6, 1, tzinfo=timezone.utc)
    known = book.find("openai", ["gpt-4o"], when)
    assert known is not None
    for n in range(_MAX_MODELS + 10):
        assert book.find("openai", [f"my-finetune-{n}"], when) is None
    assert len(book._models) <= _MAX_MODELS
    assert book.find("openai", ["gpt-4o"], when) == known


def test_prices_are_remembered_per_day_unless_they_change_within_one() -> None:
    """A span's price is looked up once per (provider, models, UTC day); DeepSeek's off-peak hours (16:30 to
    00:30 UTC in genai-prices) change it within a day, so those are looked up per span."""
    from llmtap.processors.cost.book import PriceBook

    book = PriceBook(CostConfig())

    def at(hour: int, provider: str, model: str) -> Any:
        ns = int(datetime(2025, 6, 1, hour, tzinfo=timezone.utc).timestamp()) * 10**9
        price = book.find_at(provider, (model,), ns)
        assert price == book.find(provider, [model], datetime(2025, 6, 1, hour, tzinfo=timezone.utc))
        return price

    assert at(10, "deepseek", "deepseek-chat") != at(17, "deepseek", "deepseek-chat"), "off-peak is cheaper"
    assert at(10, "openai", "gpt-4o") == at(17, "openai", "gpt-4o")
    assert at(10, "openai", "no-such-model") is None
    assert set(book._days) == {("openai", ("gpt-4o",), 20240), ("openai", ("no-such-model",), 20240)}


def test_token_counts_sent_as_text_or_floats_count_and_garbage_counts_nothing() -> None:
    # Some senders stringify numbers; a count of "inf" or NaN once failed the whole request (int(inf) raises).
    text, garbage = priced({**genai("openai", "gpt-4o", 0, 0), "gen_ai.usage.input_tokens": "1000",
                            "gen_ai.usage.output_tokens": 500.9},
                           {**genai("openai", "gpt-4o", 0, 0), "gen_ai.usage.input_tokens": "inf",
                            "gen_ai.usage.output_tokens": float("nan")})
    assert text[semconv.LLMTAP_COST_USD] == pytest.approx(1000 * 2.5e-6 + 500 * 10e-6)
    assert garbage[semconv.LLMTAP_COST_USD] == 0.0 and garbage[semconv.LLMTAP_COST_SOURCE] == "genai-prices"

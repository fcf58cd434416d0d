"""The `cost` processor's config: price overrides for models `genai-prices` does not know or prices
differently for you (fine-tunes, self-hosted models, negotiated rates)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from llmtap.collector.config import Model


class Tier(Model):
    """Prices that replace the base ones when a call's input tokens exceed `above_input_tokens`
    (as Anthropic and Google price long prompts); a price left out keeps the base one."""

    above_input_tokens: int = Field(ge=0)
    input: float | None = Field(default=None, ge=0)
    output: float | None = Field(default=None, ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)
    reasoning: float | None = Field(default=None, ge=0)


class PriceOverride(Model):
    """USD per million tokens for the models matching `model` (a glob such as `ft:gpt-4o-mini:acme:*`,
    matched against the response model, then the request model) and, if given, `provider` (a glob over
    `gen_ai.provider.name`). Cache and reasoning tokens without a price of their own cost as input and
    output tokens do. Among the overrides that match a call, the one with the latest `effective_from` not
    after the call wins; ties go to the first in the list."""

    name: str = ""
    """Recorded as `llmtap.cost.source_version` on the calls it prices; defaults to the model pattern."""
    model: str
    provider: str = "*"
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)
    reasoning: float | None = Field(default=None, ge=0)
    tiers: list[Tier] = []
    effective_from: date | None = None


class CostConfig(Model):
    overrides: list[PriceOverride] = []
    use_genai_prices: bool = True
    """Price calls from the `genai-prices` data shipped in its wheel (never fetched at run time)."""

"""Prices per token type and the arithmetic of one call's cost.

The conventions' token counts are inclusive: input tokens include those read from and written to the
cache, output tokens include reasoning. Each token is priced once, in the most specific bucket that has a
price: `input - cache_read - cache_write` at the input price, cache reads and writes at theirs, and so on.
This is how `genai-prices` decomposes usage too; its own calculation is about 160 us per call, so the common
case (prices per token type, with input-size tiers) is computed here from its price tables, and a test
checks both agree on every model it knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

MILLION = Decimal(1_000_000)

Rate = tuple[Decimal, tuple[tuple[int, Decimal], ...]]
"""A price per million tokens: the base, and (above this many input tokens, price) tiers in ascending order."""


def rate_at(rate: Rate, total_input: int) -> Decimal:
    price = rate[0]
    for start, tier_price in rate[1]:
        if total_input > start:
            price = tier_price
    return price


class Usage(NamedTuple):
    """Token counts of one call, as the conventions count them (inclusive). Tuples: one is made per span."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0


class Cost(NamedTuple):
    input: Decimal
    cache_read: Decimal
    cache_write: Decimal
    output: Decimal
    reasoning: Decimal
    cache_savings: Decimal = Decimal(0)
    """Not part of the total: what the cache reads would have cost more at the input price."""

    @property
    def total(self) -> Decimal:
        return self.input + self.cache_read + self.cache_write + self.output + self.reasoning


@dataclass(frozen=True)
class Price:
    """What one model costs; a missing cache or reasoning rate means those tokens cost the input or output rate."""

    input: Rate
    output: Rate
    cache_read: Rate | None = None
    cache_write: Rate | None = None
    reasoning: Rate | None = None
    source: str = "genai-prices"
    source_version: str = ""

    def cost(self, usage: Usage) -> Cost:
        """Each part at its own rate (a cache or reasoning token without one at the input or output rate, so
        the parts still show where the money went); the parts add up to the total."""
        total_input = usage.input

        def part(rate: Rate, count: int) -> Decimal:
            return rate_at(rate, total_input) * count / MILLION if count > 0 else Decimal(0)

        cache_read = part(self.cache_read or self.input, usage.cache_read)
        return Cost(input=part(self.input, usage.input - usage.cache_read - usage.cache_write),
                    cache_read=cache_read,
                    cache_write=part(self.cache_write or self.input, usage.cache_write),
                    output=part(self.output, usage.output - usage.reasoning),
                    reasoning=part(self.reasoning or self.output, usage.reasoning),
                    cache_savings=max(part(self.input, usage.cache_read) - cache_read, Decimal(0)))

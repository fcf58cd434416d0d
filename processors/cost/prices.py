"""Prices per token type and the arithmetic of one call's cost.

The conventions' token counts are inclusive: input tokens include those read from and written to the
cache, output tokens include reasoning. Each token is priced once, in the most specific bucket that has a
price: `input - cache_read - cache_write` at the input price, cache reads and writes at theirs, and so on.
This is how `genai-prices` decomposes usage too; its own calculation is about 160 us per call, so the common
case (prices per token type, with input-size tiers) is computed here from its price tables, and a test
checks both agree on every model it knows.

The arithmetic is exact: a price's rates are integers over one common denominator, so a part is an integer
until the one division that makes it a float (Python's int / int is correctly rounded). The result is the
float nearest the exact decimal cost, as `float(Decimal)` gives, for a fraction of Decimal's work per call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

Rate = tuple[Decimal, tuple[tuple[int, Decimal], ...]]
"""A price per million tokens: the base, and (above this many input tokens, price) tiers in ascending order."""


class Usage(NamedTuple):
    """Token counts of one call, as the conventions count them (inclusive). Tuples: one is made per span."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0


class Cost(NamedTuple):
    """A call's cost in US dollars, by part; `total` is the exact sum, rounded once."""

    input: float
    cache_read: float
    cache_write: float
    output: float
    reasoning: float
    total: float
    cache_savings: float = 0.0
    """Not part of the total: what the cache reads would have cost more at the input price."""


Numerators = tuple[int, int, int, int, int]
"""Input, cache read, cache write, output and reasoning rates per token, over a price's denominator."""


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
    _denominator: int = field(init=False, repr=False, compare=False)
    _tiers: tuple[tuple[int, Numerators], ...] = field(init=False, repr=False, compare=False)
    """(above this many input tokens, rates) from the lowest tier up; the first starts at -1 (every call)."""

    def __post_init__(self) -> None:
        rates = (self.input, self.cache_read or self.input, self.cache_write or self.input, self.output,
                 self.reasoning or self.output)
        values = [value for rate in rates for value in (rate[0], *(price for _, price in rate[1]))]
        ratios = [value.as_integer_ratio() for value in values]
        common = math.lcm(*(d for _, d in ratios))
        scaled = {value: n * (common // d) for value, (n, d) in zip(values, ratios, strict=True)}
        starts = sorted({-1, *(start for rate in rates for start, _ in rate[1])})
        tiers = tuple((start, tuple(scaled[_rate_at(rate, start + 1)] for rate in rates)) for start in starts)
        object.__setattr__(self, "_denominator", common * 1_000_000)  # rates are per million tokens
        object.__setattr__(self, "_tiers", tiers)

    def cost(self, usage: Usage) -> Cost:
        """Each part at its own rate (a cache or reasoning token without one at the input or output rate, so
        the parts still show where the money went); the parts add up to the total."""
        rates = self._tiers[0][1]
        for start, tier in self._tiers[1:]:
            if usage.input > start:
                rates = tier
        input_rate, read_rate, write_rate, output_rate, reasoning_rate = rates
        read = usage.cache_read * read_rate
        parts = (max(usage.input - usage.cache_read - usage.cache_write, 0) * input_rate, read,
                 usage.cache_write * write_rate, max(usage.output - usage.reasoning, 0) * output_rate,
                 usage.reasoning * reasoning_rate)
        d = self._denominator
        savings = usage.cache_read * input_rate - read
        return Cost(parts[0] / d, parts[1] / d, parts[2] / d, parts[3] / d, parts[4] / d, sum(parts) / d,
                    savings / d if savings > 0 else 0.0)


def _rate_at(rate: Rate, total_input: int) -> Decimal:
    """The price per million tokens of a call with `total_input` input tokens."""
    price = rate[0]
    for start, tier_price in rate[1]:
        if total_input > start:
            price = tier_price
    return price

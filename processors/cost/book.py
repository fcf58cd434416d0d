"""`PriceBook`: the price of a provider's model on a date, from the config's overrides, then `genai-prices`.

`genai-prices` data ships in its wheel; it is pinned so the same call prices the same way until llmtap is
upgraded, and it is never updated at run time (a collector must not fetch over the network).
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Sequence
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from llmtap.processors.cost.config import CostConfig, PriceOverride
from llmtap.processors.cost.prices import Price, Rate

PROVIDERS = {
    "openai": "openai", "azure.ai.openai": "azure", "azure.ai.inference": "azure", "anthropic": "anthropic",
    "gcp.gemini": "google", "gcp.vertex_ai": "google", "gcp.gen_ai": "google", "aws.bedrock": "aws",
    "mistral_ai": "mistral", "groq": "groq", "deepseek": "deepseek", "x_ai": "x-ai", "perplexity": "perplexity",
    "cohere": "cohere", "together_ai": "together", "fireworks_ai": "fireworks", "openrouter": "openrouter",
    "moonshot_ai": "moonshotai", "cerebras": "cerebras",
}
"""`gen_ai.provider.name` values to `genai-prices` provider ids. Providers not listed (self-hosted ones such
as `ollama`) are priced only by overrides."""

_TOKEN_PRICES = {"input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "output_reasoning_mtok"}
_ALWAYS_ZERO = {"web_searches_kcount", "storage_searches_kcount", "code_executions_kcount", "rerank_searches_kcount",
                "social_searches_kcount", "cache_write_1h_mtok", "audio_hours", "input_audio_hours",
                "output_audio_hours", "input_document_kpages", "input_annotated_document_kpages", "input_mchars",
                "input_gpixels", "input_text_messages_kcount", "input_audio_mtok", "input_image_mtok",
                "input_video_mtok", "output_audio_mtok", "output_image_mtok", "output_video_mtok",
                "cache_audio_read_mtok", "cache_image_read_mtok", "output_citation_mtok"}
"""Prices of usage the conventions do not report (searches, audio, image and video tokens, pages, 1-hour
cache writes): they add nothing to a call priced from its token counts, in `genai-prices` as here."""


_MAX_MODELS = 10_000
"""(provider, model) lookups remembered, and (provider, models, day) answers."""
_DAY_NS = 86_400 * 10**9


def _version() -> str:
    try:
        import genai_prices

        return str(genai_prices.__version__)
    except Exception:
        return ""


class PriceBook:
    def __init__(self, config: CostConfig):
        self.overrides = list(config.overrides)
        self.use_genai_prices = config.use_genai_prices
        self.version = _version() if self.use_genai_prices else ""
        self._models: dict[tuple[str, str], tuple[Any, bool]] = {}
        self._prices: dict[int, tuple[Any, Price | None]] = {}
        self._days: dict[tuple[str, tuple[str, ...], int], Price | None] = {}

    def find_at(self, provider: str, models: tuple[str, ...], start_time_unix_nano: int) -> Price | None:
        """`find` for a span that started then (unset: now), remembered for the rest of its UTC day when no
        price involved changes within a day (overrides and most prices change on dates; a few, such as
        off-peak hours, by the time of day)."""
        if start_time_unix_nano <= 0:
            start_time_unix_nano = time.time_ns()
        key = (provider, models, start_time_unix_nano // _DAY_NS)
        try:
            return self._days[key]
        except KeyError:
            pass
        price, daily = self._find(provider, models, span_time(start_time_unix_nano))
        if daily:
            if len(self._days) >= _MAX_MODELS:  # model names come from clients: keep the cache bounded
                self._days.clear()
            self._days[key] = price
        return price

    def find(self, provider: str, models: Sequence[str], when: datetime) -> Price | None:
        """The price of the first of `models` (response model, then request model) that has one."""
        return self._find(provider, models, when)[0]

    def _find(self, provider: str, models: Sequence[str], when: datetime) -> tuple[Price | None, bool]:
        """The price, and whether the same is found all day on `when`'s date."""
        for model in models:
            price = self._override(provider, model, when.date())
            if price is not None:
                return price, True
        daily = True
        if self.use_genai_prices:
            for model in models:
                price, model_daily = self._genai_price(provider, model, when)
                daily = daily and model_daily
                if price is not None:
                    return price, daily
        return None, daily

    def _override(self, provider: str, model: str, day: date) -> Price | None:
        best: PriceOverride | None = None
        for o in self.overrides:
            if o.effective_from is not None and o.effective_from > day:
                continue
            if not fnmatch.fnmatchcase(model, o.model) or not fnmatch.fnmatchcase(provider, o.provider):
                continue
            if best is None or (o.effective_from or date.min) > (best.effective_from or date.min):
                best = o
        return None if best is None else _override_price(best)

    def _genai_price(self, provider: str, model: str, when: datetime) -> tuple[Price | None, bool]:
        """The price, and whether the model's prices change only on dates."""
        provider_id = PROVIDERS.get(provider)
        if provider_id is None:
            return None, True
        key = (provider_id, model)
        if key not in self._models:
            if len(self._models) >= _MAX_MODELS:  # model names come from clients: keep the cache bounded
                self._models.clear()
            from genai_prices import data_snapshot

            try:
                info = data_snapshot.get_snapshot().find_provider_model(model, None, provider_id, None)[1]
            except LookupError:
                info = None
            self._models[key] = (info, _daily(info))
        info, daily = self._models[key]
        if info is None:
            return None, True
        model_price = info.get_prices(when)
        cached = self._prices.get(id(model_price))
        if cached is None or cached[0] is not model_price:
            cached = (model_price, _genai_price(model_price, self.version))
            self._prices[id(model_price)] = cached
        return cached[1], daily


def _daily(info: Any) -> bool:
    """Whether a `genai-prices` model's price depends on the date only, not on the time of day."""
    from genai_prices.types import TimeOfDateConstraint

    conditional = info.prices if info is not None and isinstance(info.prices, list) else []
    return not any(isinstance(c.constraint, TimeOfDateConstraint) for c in conditional)


def _rate(value: Any) -> Rate | None:
    """A `genai-prices` price (a Decimal, or `TieredPrices` with `base` and `tiers`) as a `Rate`."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value, ()
    return value.base, tuple((tier.start, tier.price) for tier in value.tiers)


def _genai_price(model_price: Any, version: str) -> Price | None:
    """None when the model is priced by something other than tokens (the call then has no known cost)."""
    keys = {k for k, v in vars(model_price).items() if v is not None and not k.startswith("_")}
    if not keys <= _TOKEN_PRICES | _ALWAYS_ZERO or "input_mtok" not in keys:
        return None
    get = vars(model_price).get
    zero: Rate = (Decimal(0), ())
    return Price(input=_rate(get("input_mtok")) or zero, output=_rate(get("output_mtok")) or zero,
                 cache_read=_rate(get("cache_read_mtok")), cache_write=_rate(get("cache_write_mtok")),
                 reasoning=_rate(get("output_reasoning_mtok")), source="genai-prices", source_version=version)


def _override_price(o: PriceOverride) -> Price:
    def rate(name: str) -> Rate | None:
        base = getattr(o, name)
        if base is None:
            return None
        tiers = tuple((t.above_input_tokens, Decimal(str(getattr(t, name) if getattr(t, name) is not None else base)))
                      for t in sorted(o.tiers, key=lambda t: t.above_input_tokens))
        return Decimal(str(base)), tiers

    return Price(input=rate("input") or (Decimal(0), ()), output=rate("output") or (Decimal(0), ()),
                 cache_read=rate("cache_read"), cache_write=rate("cache_write"), reasoning=rate("reasoning"),
                 source="override", source_version=o.name or o.model)


def span_time(start_time_unix_nano: int) -> datetime:
    if start_time_unix_nano <= 0:
        return datetime.now(tz=timezone.utc)
    return datetime.fromtimestamp(start_time_unix_nano / 1e9, tz=timezone.utc)

"""The `cost` processor: prices every GenAI span from its provider, model and token usage.

    processors:
      cost:
        overrides:
          - {model: "ft:gpt-4o-mini:acme:*", provider: openai, input: 0.30, output: 1.20, cache_read: 0.15}
"""

from __future__ import annotations

from llmtap.collector.component import Factory
from llmtap.collector.signals import Signal
from llmtap.processors.cost.config import CostConfig, PriceOverride
from llmtap.processors.cost.processor import CostProcessor

factory: Factory[CostConfig] = Factory(type="cost", config=CostConfig, create=lambda cid, cfg: CostProcessor(cid, cfg),
                                       signals=frozenset({Signal.TRACES}))

__all__ = ["CostConfig", "CostProcessor", "PriceOverride", "factory"]

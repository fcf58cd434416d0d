"""The `genai_metrics` connector's settings."""

from __future__ import annotations

import itertools

from pydantic import Field, field_validator

from llmtap.collector.config import Duration, Model

DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0,
                    300.0, 600.0)
"""LLM-sized: most calls take seconds, agents and reasoning models minutes."""

TTFT_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 30.0, 60.0)


class LabelCap(Model):
    """A high-cardinality label kept to its `top` most frequent values; the rest become `other`."""

    enabled: bool = True
    top: int = Field(default=100, ge=1)


class GenAIMetricsConfig(Model):
    flush_interval: Duration = Field(default=15.0, gt=0)
    """How often the series are emitted (as deltas over the interval)."""
    duration_buckets: list[float] = list(DURATION_BUCKETS)
    ttft_buckets: list[float] = list(TTFT_BUCKETS)
    users: LabelCap = LabelCap()
    """The `user.id` label."""
    tenants: LabelCap = LabelCap()
    """The `llmtap.tenant.id` label."""
    cardinality_window: Duration = 3600.0
    """How often the top-N sets are chosen again, from the request counts of the window just ended."""
    calls: bool = True
    """Emit one `llmtap.llm_call` log record per GenAI span (the `llm_calls` rows, Loki's per-call lines)."""
    preview_chars: int = Field(default=200, ge=0)

    @field_validator("duration_buckets", "ttft_buckets")
    @classmethod
    def _increasing(cls, bounds: list[float]) -> list[float]:
        if any(b <= a for a, b in itertools.pairwise(bounds)):
            raise ValueError("bucket boundaries must increase")
        return bounds

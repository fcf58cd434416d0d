"""The `sample` processor's settings: head sampling by trace id, tail sampling by policies."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from llmtap.collector.config import Duration, Model


class HeadConfig(Model):
    ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    mode: Literal["proportional", "equalizing", "traceidratio"] = "proportional"
    """`proportional` and `equalizing` use the W3C trace-state threshold (`ot=th:`) as the SDK's composite
    samplers and the Go Collector's probabilistic sampler do: `proportional` multiplies with a probability
    applied upstream, `equalizing` only lowers it to `ratio`. `traceidratio` is the SDK's `TraceIdRatioBased`
    rule (the trace id's low 64 bits below `ratio * 2**64`)."""


class Policy(Model):
    """One tail-sampling rule; a trace is kept if any rule keeps it."""

    name: str
    type: Literal["errors", "latency", "cost", "tokens", "attribute", "probabilistic", "rate_limiting"]
    threshold: Duration | None = None
    """`latency`: the trace's duration (first start to last end) at least this."""
    threshold_usd: float | None = None
    """`cost`: the trace's `llmtap.cost.usd` summed over its spans at least this."""
    threshold_tokens: int | None = None
    """`tokens`: input plus output tokens summed over the trace's spans at least this."""
    key: str | None = None
    """`attribute`: a span or resource attribute whose value is one of `values` or matches `pattern`."""
    values: list[str] = []
    pattern: str | None = None
    ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    """`probabilistic`: the share of the traces no other policy kept, chosen consistently by trace id."""
    spans_per_second: int | None = Field(default=None, ge=1)
    """`rate_limiting`: keep traces while they total at most this many spans per second."""

    @model_validator(mode="after")
    def _settings(self) -> Policy:
        needs = {"latency": "threshold", "cost": "threshold_usd", "tokens": "threshold_tokens", "attribute": "key",
                 "probabilistic": "ratio", "rate_limiting": "spans_per_second"}
        field = needs.get(self.type)
        if field is not None and getattr(self, field) is None:
            raise ValueError(f"a {self.type} policy needs {field}")
        if self.type == "attribute" and not self.values and self.pattern is None:
            raise ValueError("an attribute policy needs values or a pattern")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern {self.pattern!r} is not a regular expression: {exc}") from None
        return self


class TailConfig(Model):
    decision_wait: Duration = 10.0
    """How long after a trace's first span it is decided."""
    max_traces: int = Field(default=50_000, ge=1)
    """Traces held at once; past it the oldest is decided early (counted), never dropped undecided."""
    decision_cache: int = Field(default=200_000, ge=0)
    """Decisions remembered, so that late spans of a decided trace follow its decision."""
    policies: list[Policy] = Field(min_length=1)


class SampleConfig(Model):
    head: HeadConfig = HeadConfig()
    tail: TailConfig | None = None

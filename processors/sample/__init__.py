"""The `sample` processor: head sampling consistent with OpenTelemetry's samplers, and tail sampling that
holds each trace for a decision window and keeps errors, slow, expensive and a share of the rest.

    processors:
      sample:
        head: {ratio: 0.5}
        tail:
          decision_wait: 10s
          policies:
            - {name: errors, type: errors}
            - {name: slow, type: latency, threshold: 20s}
            - {name: expensive, type: cost, threshold_usd: 0.50}
            - {name: rest, type: probabilistic, ratio: 0.1}

Put it after the `genai_metrics` connector, whose accounting then stays exact whatever is dropped.
"""

from __future__ import annotations

from llmtap.collector.component import Factory
from llmtap.collector.signals import Signal
from llmtap.processors.sample.config import HeadConfig, Policy, SampleConfig, TailConfig
from llmtap.processors.sample.processor import SampleProcessor

factory: Factory[SampleConfig] = Factory(type="sample", config=SampleConfig,
                                         create=lambda cid, cfg: SampleProcessor(cid, cfg),
                                         signals=frozenset({Signal.TRACES}))

__all__ = ["HeadConfig", "Policy", "SampleConfig", "SampleProcessor", "TailConfig", "factory"]

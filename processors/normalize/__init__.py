"""The `normalize` processor: telemetry from any GenAI instrumentation, in any language, in one shape, the
current GenAI semantic conventions. It maps the older conventions (`gen_ai.system`, `prompt_tokens`,
`gen_ai.prompt.N.*`, per-message events), OpenLLMetry (Traceloop), OpenInference (Phoenix), OpenLIT and the
Vercel AI SDK; the originals are removed unless `keep_originals`.

    processors:
      normalize: {keep_originals: false, rename_spans: true}
"""

from __future__ import annotations

from llmtap.collector.component import Factory
from llmtap.collector.signals import Signal
from llmtap.processors.normalize.config import NormalizeConfig
from llmtap.processors.normalize.processor import NormalizeProcessor

factory: Factory[NormalizeConfig] = Factory(type="normalize", config=NormalizeConfig,
                                            create=lambda cid, cfg: NormalizeProcessor(cid, cfg),
                                            signals=frozenset({Signal.TRACES, Signal.LOGS}))

__all__ = ["NormalizeConfig", "NormalizeProcessor", "factory"]

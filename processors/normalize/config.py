"""The `normalize` processor's settings."""

from __future__ import annotations

from llmtap.collector.config import Model


class NormalizeConfig(Model):
    keep_originals: bool = False
    """Keep the attributes of other conventions next to their current names (they are removed by default)."""
    rename_spans: bool = True
    """Name a normalized GenAI span `{gen_ai.operation.name} {gen_ai.request.model}`, as the conventions do."""

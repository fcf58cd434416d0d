"""Auto-instrumentation of the `anthropic` SDK: Messages (create, parse, `stream=True` and the
`messages.stream()` helper), sync and async, the beta Messages too, for Anthropic, Bedrock, Vertex and
Anthropic-compatible servers.

    from llmtap.instrumentation.anthropic import AnthropicInstrumentor
    AnthropicInstrumentor().instrument()

or nothing at all under `opentelemetry-instrument` (entry point `anthropic`).
"""

from __future__ import annotations

from llmtap.instrumentation.anthropic.instrumentor import AnthropicInstrumentor

__all__ = ["AnthropicInstrumentor"]

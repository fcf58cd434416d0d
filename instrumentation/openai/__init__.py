"""Auto-instrumentation of the `openai` SDK (2.x and 3.x): Chat Completions, Responses and Embeddings,
sync and async, streamed or not, for OpenAI, Azure OpenAI and OpenAI-compatible servers.

    from llmtap.instrumentation.openai import OpenAIInstrumentor
    OpenAIInstrumentor().instrument()

or nothing at all under `opentelemetry-instrument` (entry point `openai`).
"""

from __future__ import annotations

from llmtap.instrumentation.openai.instrumentor import OpenAIInstrumentor

__all__ = ["OpenAIInstrumentor"]

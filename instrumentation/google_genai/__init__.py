"""Auto-instrumentation of the `google-genai` SDK: `models.generate_content`, `generate_content_stream`, their
async forms (`client.aio.models`) and `embed_content`, for the Gemini API and Vertex AI.

    from llmtap.instrumentation.google_genai import GoogleGenAIInstrumentor
    GoogleGenAIInstrumentor().instrument()

or nothing at all under `opentelemetry-instrument` (entry point `google_genai`).
"""

from __future__ import annotations

from llmtap.instrumentation.google_genai.instrumentor import GoogleGenAIInstrumentor

__all__ = ["GoogleGenAIInstrumentor"]

"""`models.embed_content`: requested dimensions, the vectors' size and the input tokens where reported."""

from __future__ import annotations

from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.util.types import AttributeValue

from llmtap.instrumentation.genai.invocation import Invocation
from llmtap.instrumentation.google_genai.content import field

OPERATION = "embeddings"


def request_attributes(kwargs: dict[str, Any]) -> dict[str, AttributeValue]:
    dimensions = field(kwargs.get("config"), "output_dimensionality")
    return {gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: dimensions} if isinstance(dimensions, int) else {}


def record_input(inv: Invocation, kwargs: dict[str, Any]) -> None:
    """Embedding inputs are not messages; the conventions record none."""


def accumulator(hide_usage_chunk: bool) -> None:
    raise TypeError("embeddings do not stream")


def record_response(inv: Invocation, response: Any) -> None:
    embeddings = getattr(response, "embeddings", None) or ()
    if embeddings and gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT not in inv.attributes:
        values = getattr(embeddings[0], "values", None)
        if values:
            inv.set(gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, len(values))
    prompt = getattr(getattr(response, "usage_metadata", None), "prompt_token_count", None)
    if isinstance(prompt, int):
        inv.usage(prompt, None)
        return
    counts = [getattr(getattr(e, "statistics", None), "token_count", None) for e in embeddings]
    if counts and all(isinstance(c, int | float) for c in counts):  # Vertex AI's per-vector statistics
        inv.usage(int(sum(c for c in counts if c is not None)), None)

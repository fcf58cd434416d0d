"""Embeddings (`embeddings.create`)."""

from __future__ import annotations

from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.util.types import AttributeValue

from llmtap.instrumentation.genai.invocation import Invocation
from llmtap.instrumentation.genai.messages import given

OPERATION = "embeddings"


def request_attributes(kwargs: dict[str, Any]) -> dict[str, AttributeValue]:
    attrs: dict[str, AttributeValue] = {}
    encoding = kwargs.get("encoding_format")
    if given(encoding) and isinstance(encoding, str):
        attrs[gen_ai.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding]
    dimensions = kwargs.get("dimensions")
    if given(dimensions) and isinstance(dimensions, int):
        attrs[gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dimensions
    return attrs


def record_input(inv: Invocation, kwargs: dict[str, Any]) -> None:
    """Embedding inputs are not messages; the conventions record none."""


def accumulator(hide_usage_chunk: bool) -> None:
    raise TypeError("embeddings do not stream")


def record_response(inv: Invocation, response: Any) -> None:
    inv.set(gen_ai.GEN_AI_RESPONSE_MODEL, getattr(response, "model", None))
    usage = getattr(response, "usage", None)
    if usage is not None:
        inv.usage(getattr(usage, "prompt_tokens", None), None)
    data = getattr(response, "data", None)
    if data and gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT not in inv.attributes:
        embedding = getattr(data[0], "embedding", None)
        if isinstance(embedding, list):
            inv.set(gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, len(embedding))

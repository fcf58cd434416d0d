"""Value conversions shared by the convention mappings."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai

from llmtap.collector.attributes import as_float

PROVIDERS = frozenset(e.value for e in gen_ai.GenAiProviderNameValues)
_PROVIDER_ALIASES = {
    "az.ai.openai": "azure.ai.openai", "azure": "azure.ai.openai", "azure_openai": "azure.ai.openai",
    "azure-openai": "azure.ai.openai", "az.ai.inference": "azure.ai.inference", "vertex_ai": "gcp.vertex_ai",
    "vertexai": "gcp.vertex_ai", "google.vertex": "gcp.vertex_ai", "gemini": "gcp.gemini", "google": "gcp.gemini",
    "google.generative-ai": "gcp.gemini", "google_genai": "gcp.gen_ai", "bedrock": "aws.bedrock",
    "amazon-bedrock": "aws.bedrock", "aws_bedrock": "aws.bedrock", "mistral": "mistral_ai", "mistralai": "mistral_ai",
    "xai": "x_ai", "watsonx": "ibm.watsonx.ai", "cohere.chat": "cohere",
}
_OPERATIONS = {"chat": "chat", "completion": "text_completion", "completions": "text_completion",
               "embedding": "embeddings", "embeddings": "embeddings", "text_completion": "text_completion"}


def provider_name(value: Any) -> str | None:
    """A provider as `gen_ai.provider.name` spells it, from older and foreign spellings (`OpenAI`,
    `az.ai.openai`, the Vercel AI SDK's `openai.chat`)."""
    if not isinstance(value, str) or not value:
        return None
    name = value.strip().lower()
    if name in PROVIDERS:
        return name
    if name in _PROVIDER_ALIASES:
        return _PROVIDER_ALIASES[name]
    head = name.split(".", 1)[0]
    if head in PROVIDERS or head in _PROVIDER_ALIASES:
        return _PROVIDER_ALIASES.get(head, head)
    return name


def operation_name(value: Any) -> str | None:
    return _OPERATIONS.get(str(value).lower()) if value is not None else None


def to_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def ms_to_s(value: Any) -> float | None:
    ms = as_float(value)
    return None if ms is None else ms / 1000


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def string_list(value: Any) -> list[str] | None:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str) and value:
        return [value]
    return None


def loads(value: Any) -> Any:
    """A JSON attribute value, or None when it is not JSON."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

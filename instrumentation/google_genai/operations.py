"""The `Models` methods as `Operation`s: the provider and server come from the client's API client, not from
an httpx `base_url`, and model names may carry the API's `models/` prefix."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import GenAiProviderNameValues as Providers

from llmtap.instrumentation.genai import endpoint
from llmtap.instrumentation.genai.wrapping import ModuleOperation


def describe(api_client: Any) -> endpoint.Description:
    """(provider, server.address, server.port) of a `BaseApiClient`, cached per client."""
    def compute() -> endpoint.Description:
        vertex = getattr(api_client, "vertexai", False)
        base_url = getattr(getattr(api_client, "_http_options", None), "base_url", None) or ""
        return (Providers.GCP_VERTEX_AI.value if vertex else Providers.GCP_GEMINI.value, *endpoint.server(base_url))

    return endpoint.cached(api_client, compute)


class ModelsOperation(ModuleOperation):
    def __init__(self, api: ModuleType, stream: bool = False):
        super().__init__(api, Providers.GCP_GEMINI.value, {})
        self.stream = stream

    def describe(self, instance: Any) -> tuple[str, str | None, int | None]:
        return describe(instance._api_client)

    def model(self, kwargs: dict[str, Any]) -> str | None:
        model = kwargs.get("model")
        return model.removeprefix("models/") if isinstance(model, str) else None

    def request_attributes(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return super().request_attributes({**kwargs, "stream": True} if self.stream else kwargs)

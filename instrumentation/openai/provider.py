"""Which provider and server an OpenAI client talks to: `gen_ai.provider.name`, `server.address`/`port`.

The OpenAI SDK serves OpenAI, Azure OpenAI and every OpenAI-compatible server; the host in `base_url`
tells them apart where it is known. Unknown hosts (a self-hosted vLLM, a proxy) speak OpenAI's API, so
they are reported as `openai`, as the conventions advise ("the instrumentation's best knowledge").
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import GenAiProviderNameValues as Providers

_HOSTS = {
    "api.openai.com": Providers.OPENAI.value,
    "api.groq.com": Providers.GROQ.value,
    "api.deepseek.com": Providers.DEEPSEEK.value,
    "api.mistral.ai": Providers.MISTRAL_AI.value,
    "api.x.ai": Providers.X_AI.value,
    "api.perplexity.ai": Providers.PERPLEXITY.value,
    "generativelanguage.googleapis.com": Providers.GCP_GEMINI.value,
    "api.together.xyz": "together_ai",
    "api.together.ai": "together_ai",
    "openrouter.ai": "openrouter",
    "api.fireworks.ai": "fireworks_ai",
    "api.moonshot.ai": "moonshot_ai",
}
_SUFFIXES = {
    ".openai.azure.com": Providers.AZURE_AI_OPENAI.value,
    ".cognitiveservices.azure.com": Providers.AZURE_AI_OPENAI.value,
    ".services.ai.azure.com": Providers.AZURE_AI_INFERENCE.value,
}
OLLAMA_PORT = 11434

_cache: weakref.WeakKeyDictionary[Any, tuple[str, str | None, int | None]] = weakref.WeakKeyDictionary()


def provider_of(host: str | None, port: int | None, azure_client: bool = False) -> str:
    if azure_client:
        return Providers.AZURE_AI_OPENAI.value
    if not host:
        return Providers.OPENAI.value
    host = host.lower()
    if host in _HOSTS:
        return _HOSTS[host]
    for suffix, provider in _SUFFIXES.items():
        if host.endswith(suffix):
            return provider
    if port == OLLAMA_PORT:
        return "ollama"
    return Providers.OPENAI.value


def describe(client: Any) -> tuple[str, str | None, int | None]:
    """(provider, server.address, server.port) of an `OpenAI`/`AsyncOpenAI`/Azure client, cached per client."""
    try:
        return _cache[client]
    except (KeyError, TypeError):
        pass
    url = client.base_url
    host = url.host or None
    port = url.port or {"https": 443, "http": 80}.get(url.scheme)
    azure = type(client).__name__ in ("AzureOpenAI", "AsyncAzureOpenAI")
    described = (provider_of(host, port, azure), host, port)
    with contextlib.suppress(TypeError):
        _cache[client] = described
    return described

"""Which provider and server a client talks to: `gen_ai.provider.name`, `server.address`, `server.port`.

One SDK often serves several providers (the OpenAI SDK talks to Azure and to every OpenAI-compatible server;
the Anthropic SDK to Bedrock and Vertex, and DeepSeek or Moonshot serve its API too). The client class names
some; the host in `base_url` tells the rest apart where it is known. Unknown hosts (a self-hosted vLLM, a
proxy) are reported as the SDK's own provider, as the conventions advise ("the instrumentation's best
knowledge").
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import GenAiProviderNameValues as Providers

_HOSTS = {
    "api.openai.com": Providers.OPENAI.value,
    "api.anthropic.com": Providers.ANTHROPIC.value,
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
    "aiplatform.googleapis.com": Providers.GCP_VERTEX_AI.value,
    ".amazonaws.com": Providers.AWS_BEDROCK.value,
}
OLLAMA_PORT = 11434

_PORTS = {"https": 443, "http": 80}

Description = tuple[str, str | None, int | None]
"""(gen_ai.provider.name, server.address, server.port)"""

_cache: weakref.WeakKeyDictionary[Any, Description] = weakref.WeakKeyDictionary()


def provider_of(host: str | None, port: int | None, default: str = Providers.OPENAI.value) -> str:
    """The provider behind `host:port`, or `default` (the SDK's own) for hosts not known."""
    if not host:
        return default
    host = host.lower()
    if host in _HOSTS:
        return _HOSTS[host]
    for suffix, provider in _SUFFIXES.items():
        if host.endswith(suffix):
            return provider
    if port == OLLAMA_PORT:
        return "ollama"
    return default


def server(base_url: Any) -> tuple[str | None, int | None]:
    """(server.address, server.port) of a base URL (an httpx `URL` or a string); the scheme's port if none."""
    url = urlsplit(str(base_url))
    return url.hostname or None, url.port or _PORTS.get(url.scheme)


def cached(client: Any, compute: Callable[[], Description]) -> Description:
    """`compute()` once per client (a client's endpoint does not change), kept while the client lives."""
    try:
        return _cache[client]
    except (KeyError, TypeError):
        pass
    described = compute()
    with contextlib.suppress(TypeError):
        _cache[client] = described
    return described


def describe(client: Any, default: str, by_class: Mapping[str, str]) -> Description:
    """(provider, server.address, server.port) of a client with an httpx `base_url`, cached per client.
    `by_class` names the provider of client classes that say it themselves (`AzureOpenAI`, `AnthropicBedrock`)."""
    def compute() -> Description:
        host, port = server(client.base_url)
        return by_class.get(type(client).__name__) or provider_of(host, port, default), host, port

    return cached(client, compute)

"""`AnthropicInstrumentor`: wraps the Messages resources (stable and beta), the stream helpers' deferred
request, and the streams' `close()`; `uninstrument()` restores the originals."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import GenAiProviderNameValues as Providers

from llmtap.instrumentation.anthropic import messages
from llmtap.instrumentation.genai.instrumentor import SDKInstrumentor, Wrapper
from llmtap.instrumentation.genai.wrapping import Instrumentation, ModuleOperation, SDKTypes

_BEDROCK, _VERTEX = Providers.AWS_BEDROCK.value, Providers.GCP_VERTEX_AI.value
CLIENTS = {"AnthropicBedrock": _BEDROCK, "AsyncAnthropicBedrock": _BEDROCK,
           "AnthropicVertex": _VERTEX, "AsyncAnthropicVertex": _VERTEX,
           "AnthropicFoundry": Providers.AZURE_AI_INFERENCE.value,
           "AsyncAnthropicFoundry": Providers.AZURE_AI_INFERENCE.value}
"""Client classes that name their provider; other clients are `anthropic` unless the host says otherwise."""

_MODULES = (
    # (where the Messages resources live in current SDKs, where they lived before 0.4x made them packages)
    ("anthropic.resources.messages.messages", "anthropic.resources.messages"),
    ("anthropic.resources.beta.messages.messages",),
    ("anthropic.resources.beta.prompt_caching.messages",),  # 0.x only: the prompt-caching beta
)


def _defining(candidates: tuple[str, ...]) -> str | None:
    """The first candidate module that defines `Messages` itself: wrapping a module that only re-exports the
    class would wrap the same methods twice."""
    import importlib

    for name in candidates:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        owner = getattr(module, "Messages", None)
        if owner is not None and owner.__module__ == name:
            return name
    return None


class AnthropicInstrumentor(SDKInstrumentor):
    scope = "llmtap.instrumentation.anthropic"

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("anthropic >= 0.47, < 3",)

    def sdk_types(self) -> SDKTypes:
        import importlib

        import anthropic._response as response
        import anthropic._streaming as streaming

        try:  # 0.x returns these from `.with_raw_response`; 2.x an `APIResponse`, observed when parsed
            legacy: Any = importlib.import_module("anthropic._legacy_response").LegacyAPIResponse
        except (ImportError, AttributeError):
            legacy = None
        return SDKTypes(stream=streaming.Stream, async_stream=streaming.AsyncStream, legacy_response=legacy,
                        api_responses=(response.APIResponse, response.AsyncAPIResponse))

    def wrappers(self, inst: Instrumentation, **kwargs: Any) -> list[tuple[str, str, Wrapper]]:
        op = ModuleOperation(messages, Providers.ANTHROPIC.value, CLIENTS)
        out: list[tuple[str, str, Wrapper]] = [
            ("anthropic._streaming", "Stream.close", inst.stream_close),
            ("anthropic._streaming", "AsyncStream.close", inst.async_stream_close),
        ]
        for candidates in _MODULES:
            module = _defining(candidates)
            if module is None:
                continue
            out += [(module, "Messages.create", inst.sync(op)), (module, "Messages.parse", inst.sync(op)),
                    (module, "AsyncMessages.create", inst.async_(op)), (module, "AsyncMessages.parse", inst.async_(op)),
                    (module, "Messages.stream", inst.deferred(op, "__api_request")),
                    (module, "AsyncMessages.stream", inst.deferred(op, "__api_request"))]
        return out

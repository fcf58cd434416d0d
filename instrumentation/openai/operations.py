"""Chat Completions as an `Operation`: the module's functions plus the opt-in `stream_options.include_usage`."""

from __future__ import annotations

from typing import Any

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import GenAiProviderNameValues as Providers

from llmtap.instrumentation.genai.messages import given
from llmtap.instrumentation.genai.wrapping import ModuleOperation
from llmtap.instrumentation.openai import chat

_AZURE = Providers.AZURE_AI_OPENAI.value
OPENAI_CLIENTS = (Providers.OPENAI.value, {"AzureOpenAI": _AZURE, "AsyncAzureOpenAI": _AZURE})
"""The SDK's default provider and the client classes that name theirs (`ModuleOperation` arguments)."""


class ChatOperation(ModuleOperation):
    def __init__(self, include_stream_usage: bool):
        super().__init__(chat, *OPENAI_CLIENTS)
        self.include_stream_usage = include_stream_usage

    def prepare(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """With `include_stream_usage`, ask a stream for its usage; the extra chunk is hidden from the app."""
        if not self.include_stream_usage or kwargs.get("stream") is not True:
            return kwargs, False
        options: Any = kwargs.get("stream_options")
        if given(options) and not isinstance(options, dict):
            return kwargs, False
        options = dict(options) if given(options) else {}
        if "include_usage" in options:  # the application decided; respect it and show what it asked for
            return kwargs, False
        options["include_usage"] = True
        return {**kwargs, "stream_options": options}, True

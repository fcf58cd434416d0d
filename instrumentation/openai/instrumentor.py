"""`OpenAIInstrumentor`: wraps the SDK's resource methods and streams' `close()`; `uninstrument()`
restores the originals."""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any

from llmtap.instrumentation.genai.instrumentor import SDKInstrumentor, Wrapper
from llmtap.instrumentation.genai.wrapping import Instrumentation, ModuleOperation, SDKTypes
from llmtap.instrumentation.openai import embeddings as embeddings_api
from llmtap.instrumentation.openai import responses as responses_api
from llmtap.instrumentation.openai.operations import OPENAI_CLIENTS, ChatOperation

INCLUDE_STREAM_USAGE_ENV = "LLMTAP_OPENAI_INCLUDE_STREAM_USAGE"

_CHAT = "openai.resources.chat.completions.completions"
_RESPONSES = "openai.resources.responses.responses"
_EMBEDDINGS = "openai.resources.embeddings"


class OpenAIInstrumentor(SDKInstrumentor):
    """Besides the common options, `include_stream_usage` (default from `LLMTAP_OPENAI_INCLUDE_STREAM_USAGE`):
    ask streams for their token usage and hide the extra usage chunk from the application."""

    scope = "llmtap.instrumentation.openai"

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 2.0, < 4",)

    def sdk_types(self) -> SDKTypes:
        import openai._legacy_response as legacy
        import openai._response as response
        import openai._streaming as streaming

        return SDKTypes(stream=streaming.Stream, async_stream=streaming.AsyncStream,
                        legacy_response=legacy.LegacyAPIResponse,
                        api_responses=(response.APIResponse, response.AsyncAPIResponse))

    def wrappers(self, inst: Instrumentation, **kwargs: Any) -> list[tuple[str, str, Wrapper]]:
        include_usage = kwargs.get("include_stream_usage")
        if include_usage is None:
            include_usage = os.environ.get(INCLUDE_STREAM_USAGE_ENV, "").strip().lower() == "true"
        chat = ChatOperation(bool(include_usage))
        responses = ModuleOperation(responses_api, *OPENAI_CLIENTS)
        embeddings = ModuleOperation(embeddings_api, *OPENAI_CLIENTS)
        sync, async_ = inst.sync, inst.async_
        return [
            (_CHAT, "Completions.create", sync(chat)), (_CHAT, "Completions.parse", sync(chat)),
            (_CHAT, "AsyncCompletions.create", async_(chat)), (_CHAT, "AsyncCompletions.parse", async_(chat)),
            (_RESPONSES, "Responses.create", sync(responses)), (_RESPONSES, "Responses.parse", sync(responses)),
            (_RESPONSES, "AsyncResponses.create", async_(responses)),
            (_RESPONSES, "AsyncResponses.parse", async_(responses)),
            (_EMBEDDINGS, "Embeddings.create", sync(embeddings)),
            (_EMBEDDINGS, "AsyncEmbeddings.create", async_(embeddings)),
            ("openai._streaming", "Stream.close", inst.stream_close),
            ("openai._streaming", "AsyncStream.close", inst.async_stream_close),
        ]

"""`OpenAIInstrumentor`: wraps the SDK's resource methods and stream/response hooks; `uninstrument()`
restores the originals."""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from llmtap.instrumentation.genai.capture import content_capture
from llmtap.instrumentation.genai.telemetry import Telemetry
from llmtap.instrumentation.genai.wrapping import Instrumentation, Operation, SDKTypes
from llmtap.instrumentation.openai import embeddings as embeddings_api
from llmtap.instrumentation.openai import responses as responses_api
from llmtap.instrumentation.openai.operations import APIOperation, ChatOperation

SCOPE = "llmtap.instrumentation.openai"
INCLUDE_STREAM_USAGE_ENV = "LLMTAP_OPENAI_INCLUDE_STREAM_USAGE"

_CHAT = "openai.resources.chat.completions.completions"
_RESPONSES = "openai.resources.responses.responses"
_EMBEDDINGS = "openai.resources.embeddings"


def _methods(include_stream_usage: bool) -> list[tuple[str, str, Operation, bool]]:
    """(module, Class.method, operation, is_async)."""
    chat = ChatOperation(include_stream_usage)
    responses, embeddings = APIOperation(responses_api), APIOperation(embeddings_api)
    return [
        (_CHAT, "Completions.create", chat, False), (_CHAT, "Completions.parse", chat, False),
        (_CHAT, "AsyncCompletions.create", chat, True), (_CHAT, "AsyncCompletions.parse", chat, True),
        (_RESPONSES, "Responses.create", responses, False), (_RESPONSES, "Responses.parse", responses, False),
        (_RESPONSES, "AsyncResponses.create", responses, True), (_RESPONSES, "AsyncResponses.parse", responses, True),
        (_EMBEDDINGS, "Embeddings.create", embeddings, False),
        (_EMBEDDINGS, "AsyncEmbeddings.create", embeddings, True),
    ]


class OpenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Options of `instrument()`: `tracer_provider`, `meter_provider`, `logger_provider`, `capture_content`
    (a `ContentCapture` mode name; default from `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`) and
    `include_stream_usage` (default from `LLMTAP_OPENAI_INCLUDE_STREAM_USAGE`): ask streams for their token
    usage and hide the extra usage chunk from the application."""

    _wrapped: list[tuple[Any, str]]
    """(owner, attribute) pairs wrapped by `_instrument`. Set there, not in `__init__`: BaseInstrumentor is a
    singleton, so every `OpenAIInstrumentor()` runs `__init__` again on the instrumented instance."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 2.0, < 4",)

    def _instrument(self, **kwargs: Any) -> None:
        import openai._legacy_response as legacy
        import openai._response as response
        import openai._streaming as streaming

        capture = kwargs.get("capture_content")
        telemetry = Telemetry(SCOPE, kwargs.get("tracer_provider"), kwargs.get("meter_provider"),
                              kwargs.get("logger_provider"),
                              content_capture(capture) if isinstance(capture, str) else None)
        include_usage = kwargs.get("include_stream_usage")
        if include_usage is None:
            include_usage = os.environ.get(INCLUDE_STREAM_USAGE_ENV, "").strip().lower() == "true"
        inst = Instrumentation(telemetry, SDKTypes(
            stream=streaming.Stream, async_stream=streaming.AsyncStream,
            legacy_response=legacy.LegacyAPIResponse,
            api_responses=(response.APIResponse, response.AsyncAPIResponse)))
        self._wrapped = []
        for module, method, op, is_async in _methods(bool(include_usage)):
            self._wrap(module, method, inst.async_(op) if is_async else inst.sync(op))
        self._wrap("openai._streaming", "Stream.close", inst.stream_close)
        self._wrap("openai._streaming", "AsyncStream.close", inst.async_stream_close)
        self._wrap("openai._response", "APIResponse.parse", inst.response_parse)
        self._wrap("openai._response", "AsyncAPIResponse.parse", inst.async_response_parse)

    def _wrap(self, module: str, method: str, wrapper: Any) -> None:
        import importlib

        try:
            wrap_function_wrapper(module, method, wrapper)
        except (ImportError, AttributeError):  # an SDK version without this method: skip it
            return
        owner_name, attr = method.rsplit(".", 1)
        self._wrapped.append((getattr(importlib.import_module(module), owner_name), attr))

    def _uninstrument(self, **kwargs: Any) -> None:
        for owner, attr in self._wrapped:
            unwrap(owner, attr)
        self._wrapped = []

"""The instrumented OpenAI methods as `Operation`s: chat, responses, embeddings."""

from __future__ import annotations

from typing import Any

from opentelemetry.util.types import AttributeValue

from llmtap.instrumentation.genai.invocation import Invocation
from llmtap.instrumentation.genai.wrapping import Accumulator
from llmtap.instrumentation.openai import chat, embeddings, responses
from llmtap.instrumentation.openai.chat import given
from llmtap.instrumentation.openai.provider import describe


class _OpenAIOperation:
    name = "chat"

    def describe(self, instance: Any) -> tuple[str, str | None, int | None]:
        return describe(instance._client)

    def model(self, kwargs: dict[str, Any]) -> str | None:
        model = kwargs.get("model")
        return model if isinstance(model, str) else None

    def prepare(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        return kwargs, False


class ChatOperation(_OpenAIOperation):
    name = chat.OPERATION

    def __init__(self, include_stream_usage: bool):
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

    def request_attributes(self, kwargs: dict[str, Any]) -> dict[str, AttributeValue]:
        return chat.request_attributes(kwargs)

    def record_input(self, inv: Invocation, kwargs: dict[str, Any]) -> None:
        chat.record_input(inv, kwargs)

    def record_response(self, inv: Invocation, response: Any) -> None:
        chat.record_response(inv, response)

    def accumulator(self, hide_usage_chunk: bool) -> Accumulator:
        return chat.ChunkAccumulator(hide_usage_chunk)


class ResponsesOperation(_OpenAIOperation):
    name = responses.OPERATION

    def request_attributes(self, kwargs: dict[str, Any]) -> dict[str, AttributeValue]:
        return responses.request_attributes(kwargs)

    def record_input(self, inv: Invocation, kwargs: dict[str, Any]) -> None:
        responses.record_input(inv, kwargs)

    def record_response(self, inv: Invocation, response: Any) -> None:
        responses.record_response(inv, response)

    def accumulator(self, hide_usage_chunk: bool) -> Accumulator:
        return responses.EventAccumulator()


class EmbeddingsOperation(_OpenAIOperation):
    name = embeddings.OPERATION

    def request_attributes(self, kwargs: dict[str, Any]) -> dict[str, AttributeValue]:
        return embeddings.request_attributes(kwargs)

    def record_input(self, inv: Invocation, kwargs: dict[str, Any]) -> None:
        embeddings.record_input(inv, kwargs)

    def record_response(self, inv: Invocation, response: Any) -> None:
        embeddings.record_response(inv, response)

    def accumulator(self, hide_usage_chunk: bool) -> Accumulator:
        raise TypeError("embeddings do not stream")

"""The instrumented OpenAI methods as `Operation`s. Each API module (`chat`, `responses`, `embeddings`) has
the same functions; `APIOperation` looks them up on the module at call time."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from opentelemetry.util.types import AttributeValue

from llmtap.instrumentation.genai.invocation import Invocation
from llmtap.instrumentation.genai.wrapping import Accumulator
from llmtap.instrumentation.openai import chat
from llmtap.instrumentation.openai.chat import given
from llmtap.instrumentation.openai.provider import describe


class APIOperation:
    def __init__(self, api: ModuleType):
        self.api = api
        self.name: str = api.OPERATION

    def describe(self, instance: Any) -> tuple[str, str | None, int | None]:
        return describe(instance._client)

    def model(self, kwargs: dict[str, Any]) -> str | None:
        model = kwargs.get("model")
        return model if isinstance(model, str) else None

    def prepare(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        return kwargs, False

    def request_attributes(self, kwargs: dict[str, Any]) -> dict[str, AttributeValue]:
        attributes: dict[str, AttributeValue] = self.api.request_attributes(kwargs)
        return attributes

    def record_input(self, inv: Invocation, kwargs: dict[str, Any]) -> None:
        self.api.record_input(inv, kwargs)

    def record_response(self, inv: Invocation, response: Any) -> None:
        self.api.record_response(inv, response)

    def accumulator(self, hide_usage_chunk: bool) -> Accumulator:
        accumulator: Accumulator = self.api.accumulator(hide_usage_chunk)
        return accumulator


class ChatOperation(APIOperation):
    def __init__(self, include_stream_usage: bool):
        super().__init__(chat)
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

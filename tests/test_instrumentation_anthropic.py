"""The Anthropic instrumentor with the real `anthropic` SDK against the local provider server: exact
attributes and metric points, and the application seeing exactly what it sees without llmtap."""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from llmtap.instrumentation.anthropic import AnthropicInstrumentor
from llmtap.instrumentation.genai.telemetry import DURATION_BUCKETS
from tests.providers.anthropic_api import THINKING
from tests.providers.server import ProviderServer
from tests.sink import Sink, attrs_of, instrumented

MESSAGES: Any = [{"role": "user", "content": "What is the answer?"}]
ANSWER = "The answer is forty-two."
# 20 uncached + 100 read from the cache + 5 written to it: the conventions count all input tokens.
INPUT_TOKENS = 125


@pytest.fixture
def sink() -> Iterator[Sink]:
    with instrumented(AnthropicInstrumentor()) as s:
        yield s


@pytest.fixture
def client(provider: ProviderServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=provider.url, api_key="test", max_retries=0)


@pytest.fixture
def aclient(provider: ProviderServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=provider.url, api_key="test", max_retries=0)


def test_create_span_and_metrics(sink: Sink, client: anthropic.Anthropic, provider: ProviderServer) -> None:
    message = client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=MESSAGES,
                                     stop_sequences=["END"], system="Be brief.",
                                     extra_body={"temperature": 0.5, "top_p": 0.9, "top_k": 40})
    assert message.content[0].text == ANSWER  # type: ignore[union-attr]
    span = sink.only_span()
    assert span.name == "chat claude-sonnet-4-5"
    assert span.kind is SpanKind.CLIENT and span.status.status_code is StatusCode.UNSET
    assert attrs_of(span) == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5", "server.address": "127.0.0.1", "server.port": provider.port,
        "gen_ai.request.max_tokens": 100, "gen_ai.request.temperature": 0.5, "gen_ai.request.top_p": 0.9,
        "gen_ai.request.top_k": 40, "gen_ai.request.stop_sequences": ("END",), "gen_ai.output.type": "text",
        "gen_ai.response.id": "msg_test123", "gen_ai.response.model": "claude-sonnet-4-5-20250101",
        "gen_ai.response.finish_reasons": ("end_turn",),
        "gen_ai.usage.input_tokens": INPUT_TOKENS, "gen_ai.usage.output_tokens": 6,
        "gen_ai.usage.cache_read.input_tokens": 100, "gen_ai.usage.cache_creation.input_tokens": 5,
        "anthropic.response.service_tier": "standard",
    }
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in sink.points("gen_ai.client.token.usage")}
    assert tokens == {"input": INPUT_TOKENS, "output": 6}
    [duration] = sink.points("gen_ai.client.operation.duration")
    assert duration.count == 1 and tuple(duration.explicit_bounds) == DURATION_BUCKETS
    assert duration.attributes["gen_ai.provider.name"] == "anthropic"
    assert not sink.logs.get_finished_logs()


def _events(client: anthropic.Anthropic, model: str = "claude-haiku-4-5") -> list[dict[str, Any]]:
    stream = client.messages.create(model=model, max_tokens=100, messages=MESSAGES, stream=True)
    assert type(stream) is anthropic.Stream
    with stream:
        return [event.model_dump() for event in stream]


def test_stream_is_unchanged_and_reports_usage_and_ttfc(client: anthropic.Anthropic) -> None:
    plain = _events(client, "thinking")
    with instrumented(AnthropicInstrumentor()) as sink:
        observed = _events(client, "thinking")
    assert observed == plain
    span = sink.only_span()
    attrs = attrs_of(span)
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.id"] == "msg_test123"
    assert attrs["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert attrs["gen_ai.usage.input_tokens"] == INPUT_TOKENS and attrs["gen_ai.usage.output_tokens"] == 6
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 100
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 4
    assert span.end_time is not None and span.start_time is not None
    assert 0 < attrs["gen_ai.response.time_to_first_chunk"] <= (span.end_time - span.start_time) / 1e9
    [ttfc] = sink.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1


def test_stream_helper_matches_the_plain_sdk(client: anthropic.Anthropic) -> None:
    def run() -> tuple[str, dict[str, Any]]:
        with client.messages.stream(model="claude-opus-4-1", max_tokens=100, messages=MESSAGES) as stream:
            text = "".join(stream.text_stream)
            return text, stream.get_final_message().model_dump()

    plain = run()
    with instrumented(AnthropicInstrumentor()) as sink:
        observed = run()
    assert observed == plain and observed[0] == ANSWER
    attrs = attrs_of(sink.only_span())
    assert attrs["gen_ai.request.stream"] is True and attrs["gen_ai.request.max_tokens"] == 100
    assert attrs["gen_ai.usage.output_tokens"] == 6
    assert attrs["gen_ai.response.finish_reasons"] == ("end_turn",)


def test_stream_helper_span_starts_with_the_request(sink: Sink, client: anthropic.Anthropic) -> None:
    manager = client.messages.stream(model="late", max_tokens=10, messages=MESSAGES)
    assert not sink.finished()
    with manager as stream:
        for _ in stream:
            break  # leaving early: the span ends with what was seen, not as a failure
    span = sink.only_span()
    assert span.status.status_code is StatusCode.UNSET
    assert attrs_of(span)["gen_ai.response.id"] == "msg_test123"


def test_early_close_and_gc_end_spans(sink: Sink, client: anthropic.Anthropic) -> None:
    stream = client.messages.create(model="m1", max_tokens=10, messages=MESSAGES, stream=True)
    next(iter(stream))
    stream.close()
    stream = client.messages.create(model="m2", max_tokens=10, messages=MESSAGES, stream=True)
    for _ in stream:
        break
    del stream
    gc.collect()
    client.messages.create(model="m3", max_tokens=10, messages=MESSAGES)
    assert [s.name for s in sink.finished()] == ["chat m1", "chat m2", "chat m3"]
    assert all(s.status.status_code is StatusCode.UNSET for s in sink.finished())


@pytest.mark.parametrize(("model", "error", "error_type"), [
    ("fail-429", anthropic.RateLimitError, "rate_limit"),
    ("fail-500", anthropic.InternalServerError, "server_error"),
    ("fail-401", anthropic.AuthenticationError, "authentication"),
    ("fail-context", anthropic.BadRequestError, "context_length_exceeded"),
])
def test_errors_are_raised_unchanged_and_classified(client: anthropic.Anthropic, model: str,
                                                    error: type[Exception], error_type: str) -> None:
    def call() -> Exception:
        with pytest.raises(error) as caught:
            client.messages.create(model=model, max_tokens=10, messages=MESSAGES)
        return caught.value

    plain = call()
    with instrumented(AnthropicInstrumentor()) as sink:
        observed = call()
    assert (type(observed), str(observed), observed.body) == (type(plain), str(plain), plain.body)  # type: ignore[attr-defined]
    span = sink.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert attrs_of(span)["error.type"] == error_type
    [duration] = sink.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == error_type


def test_midstream_error_fails_the_span(sink: Sink, client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        for _ in client.messages.create(model="midstream-error", max_tokens=10, messages=MESSAGES, stream=True):
            pass
    span = sink.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert attrs_of(span)["gen_ai.response.id"] == "msg_test123"  # what arrived before the failure is kept


def test_raw_and_streaming_responses(sink: Sink, client: anthropic.Anthropic) -> None:
    raw = client.messages.with_raw_response.create(model="raw", max_tokens=10, messages=MESSAGES)
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("application/json")
    assert raw.parse().id == "msg_test123"
    raw_stream = client.messages.with_raw_response.create(model="raw-stream", max_tokens=10, messages=MESSAGES,
                                                          stream=True)
    assert raw_stream.status_code == 200
    stream = raw_stream.parse()
    assert type(stream) is anthropic.Stream
    assert [e.type for e in stream][-1] == "message_stop"
    with client.messages.with_streaming_response.create(model="streaming", max_tokens=10,
                                                        messages=MESSAGES) as resp:
        assert resp.parse().usage.input_tokens == 20
    spans = {s.name: attrs_of(s) for s in sink.finished()}
    assert spans["chat raw"]["gen_ai.usage.input_tokens"] == INPUT_TOKENS
    assert spans["chat raw-stream"]["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert spans["chat streaming"]["gen_ai.response.id"] == "msg_test123"


def test_async_raw_and_streaming_responses_and_one_never_parsed(sink: Sink, aclient: anthropic.AsyncAnthropic) -> None:
    """The response objects the application parses itself: observed on their first `parse()` (a second one
    changes nothing), and one dropped unparsed still ends its span, with no cycle keeping it alive."""
    async def main() -> None:
        raw = await aclient.messages.with_raw_response.create(model="araw", max_tokens=10, messages=MESSAGES)
        assert raw.status_code == 200
        for _ in range(2):  # 0.x returns a `LegacyAPIResponse`, which parses without awaiting
            parsed = raw.parse()
            assert (await parsed if inspect.isawaitable(parsed) else parsed).id == "msg_test123"
        async with aclient.messages.with_streaming_response.create(model="astreaming", max_tokens=10,
                                                                    messages=MESSAGES) as resp:
            assert (await resp.parse()).usage.input_tokens == 20
        async with aclient.messages.with_streaming_response.create(model="unparsed", max_tokens=10,
                                                                    messages=MESSAGES) as dropped:
            assert dropped.status_code == 200

    gc.disable()  # freed by reference counting alone, as soon as the application lets go of it
    try:
        asyncio.run(main())
        names = [s.name for s in sink.finished()]
    finally:
        gc.enable()
    assert names == ["chat araw", "chat astreaming", "chat unparsed"]
    spans = {s.name: attrs_of(s) for s in sink.finished()}
    assert spans["chat araw"]["gen_ai.usage.input_tokens"] == INPUT_TOKENS
    assert spans["chat astreaming"]["gen_ai.response.id"] == "msg_test123"
    assert "gen_ai.response.id" not in spans["chat unparsed"]  # only the request is known


def test_async_create_stream_and_helper(sink: Sink, aclient: anthropic.AsyncAnthropic) -> None:
    async def main() -> tuple[str, int, str]:
        message = await aclient.messages.create(model="a1", max_tokens=10, messages=MESSAGES)
        stream = await aclient.messages.create(model="a2", max_tokens=10, messages=MESSAGES, stream=True)
        assert type(stream) is anthropic.AsyncStream
        async with stream:
            count = len([e async for e in stream])
        async with aclient.messages.stream(model="a3", max_tokens=10, messages=MESSAGES) as helper:
            text = "".join([t async for t in helper.text_stream])
        early = await aclient.messages.create(model="a4", max_tokens=10, messages=MESSAGES, stream=True)
        await early.__anext__()
        await early.close()
        return message.content[0].text, count, text  # type: ignore[union-attr]

    text, count, streamed = asyncio.run(main())
    assert text == ANSWER and streamed == ANSWER and count == 11  # `ping` events are the SDK's to drop
    spans = {s.name: attrs_of(s) for s in sink.finished()}
    assert list(spans) == ["chat a1", "chat a2", "chat a3", "chat a4"]
    assert spans["chat a2"]["gen_ai.usage.output_tokens"] == 6
    assert spans["chat a3"]["gen_ai.request.stream"] is True
    assert spans["chat a3"]["gen_ai.response.finish_reasons"] == ("end_turn",)


TOOLS: Any = [{"name": "get_weather", "description": "Weather by city",
               "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
CONVERSATION: Any = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_00", "name": "get_weather",
                                       "input": {"city": "Paris"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_00", "content": "18 C"},
                                 {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                              "data": "iVBORw0KGgo="}}]},
]


@pytest.mark.parametrize("stream", [False, True])
def test_content_with_tools_and_thinking(client: anthropic.Anthropic, stream: bool) -> None:
    with instrumented(AnthropicInstrumentor(), capture_content="SPAN_ONLY") as sink:
        for model in ("tools", "thinking"):
            kwargs: Any = {"model": model, "max_tokens": 200, "messages": CONVERSATION, "tools": TOOLS,
                           "system": [{"type": "text", "text": "Be brief."}],
                           "thinking": {"type": "enabled", "budget_tokens": 64}}
            if stream:
                with client.messages.stream(**kwargs) as s:
                    s.until_done()
            else:
                client.messages.create(**kwargs)
    tools_span, thinking_span = (attrs_of(s) for s in sink.finished())
    assert json.loads(tools_span["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(tools_span["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "toolu_00", "name": "get_weather",
                                         "arguments": {"city": "Paris"}}]},
        {"role": "user", "parts": [{"type": "tool_call_response", "id": "toolu_00", "response": "18 C"},
                                   {"type": "image"}]},
    ]
    assert json.loads(tools_span["gen_ai.tool.definitions"]) == [
        {"type": "function", "name": "get_weather", "description": "Weather by city",
         "parameters": TOOLS[0]["input_schema"]}]
    assert json.loads(tools_span["gen_ai.output.messages"]) == [
        {"role": "assistant", "finish_reason": "tool_call", "parts": [
            {"type": "text", "content": "Let me look."},
            {"type": "tool_call", "id": "toolu_01", "name": "get_weather", "arguments": {"city": "Paris"}}]}]
    assert tools_span["gen_ai.response.finish_reasons"] == ("tool_use",)
    assert tools_span["anthropic.request.thinking.budget_tokens"] == 64
    assert json.loads(thinking_span["gen_ai.output.messages"]) == [
        {"role": "assistant", "finish_reason": "stop", "parts": [
            {"type": "reasoning", "content": THINKING}, {"type": "text", "content": ANSWER}]}]
    assert thinking_span["gen_ai.usage.reasoning.output_tokens"] == 4


def test_cloud_clients_name_their_provider(sink: Sink, provider: ProviderServer) -> None:
    vertex = anthropic.AnthropicVertex(base_url=provider.url, region="us-east5", project_id="p",
                                       access_token="t", max_retries=0)
    with pytest.raises(anthropic.NotFoundError):  # Vertex's own paths are not served here
        vertex.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=MESSAGES)
    attrs = attrs_of(sink.only_span())
    assert attrs["gen_ai.provider.name"] == "gcp.vertex_ai" and attrs["error.type"] == "not_found"


def test_uninstrument_restores_the_sdk(client: anthropic.Anthropic) -> None:
    with instrumented(AnthropicInstrumentor()) as sink:
        pass  # instrumented, then uninstrumented
    client.messages.create(model="after", max_tokens=10, messages=MESSAGES)
    with client.messages.stream(model="after", max_tokens=10, messages=MESSAGES) as stream:
        stream.until_done()
    assert not sink.finished()

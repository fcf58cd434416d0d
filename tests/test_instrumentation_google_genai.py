"""The google-genai instrumentor with the real SDK against the local provider server (Gemini API wire format):
exact attributes and metric points, and the application seeing exactly what it sees without llmtap."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Iterator
from typing import Any

import pytest
from google import genai
from google.genai import errors, types
from opentelemetry.trace import SpanKind, StatusCode

from llmtap.instrumentation.genai.telemetry import DURATION_BUCKETS
from llmtap.instrumentation.google_genai import GoogleGenAIInstrumentor
from tests.providers.gemini_api import THINKING
from tests.providers.server import ProviderServer
from tests.sink import Sink, attrs_of, instrumented

ANSWER = "The answer is forty-two."


@pytest.fixture
def sink() -> Iterator[Sink]:
    with instrumented(GoogleGenAIInstrumentor()) as s:
        yield s


@pytest.fixture
def client(provider: ProviderServer) -> genai.Client:
    return genai.Client(api_key="test", http_options=types.HttpOptions(
        base_url=provider.url, retry_options=types.HttpRetryOptions(attempts=1)))


def test_generate_content_span_and_metrics(sink: Sink, client: genai.Client, provider: ProviderServer) -> None:
    response = client.models.generate_content(
        model="models/gemini-2.5-flash", contents="What is the answer?",
        config=types.GenerateContentConfig(temperature=0.3, top_p=0.8, top_k=20, max_output_tokens=64, seed=3,
                                           stop_sequences=["END"], candidate_count=1,
                                           response_mime_type="application/json"))
    assert response.text == ANSWER
    span = sink.only_span()
    assert span.name == "chat gemini-2.5-flash"
    assert span.kind is SpanKind.CLIENT and span.status.status_code is StatusCode.UNSET
    assert attrs_of(span) == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.request.model": "gemini-2.5-flash", "server.address": "127.0.0.1", "server.port": provider.port,
        "gen_ai.request.temperature": 0.3, "gen_ai.request.top_p": 0.8, "gen_ai.request.top_k": 20,
        "gen_ai.request.max_tokens": 64, "gen_ai.request.seed": 3, "gen_ai.request.stop_sequences": ("END",),
        "gen_ai.output.type": "json",
        "gen_ai.response.id": "gemini-resp-1", "gen_ai.response.model": "gemini-2.5-flash-001",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 30, "gen_ai.usage.output_tokens": 6,
        "gen_ai.usage.cache_read.input_tokens": 10,
    }
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in sink.points("gen_ai.client.token.usage")}
    assert tokens == {"input": 30, "output": 6}
    [duration] = sink.points("gen_ai.client.operation.duration")
    assert duration.count == 1 and tuple(duration.explicit_bounds) == DURATION_BUCKETS
    assert duration.attributes["gen_ai.provider.name"] == "gcp.gemini"


def _chunks(client: genai.Client, model: str) -> list[dict[str, Any]]:
    return [c.model_dump(exclude={"sdk_http_response"})
            for c in client.models.generate_content_stream(model=model, contents="What is the answer?")]


def test_stream_is_unchanged_and_reports_usage_and_ttfc(client: genai.Client) -> None:
    plain = _chunks(client, "thinking")
    with instrumented(GoogleGenAIInstrumentor()) as sink:
        observed = _chunks(client, "thinking")
    assert observed == plain and len(observed) == 7
    span = sink.only_span()
    attrs = attrs_of(span)
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    # output = 6 candidate tokens + 4 thought tokens; the last chunk's usage is the total
    assert attrs["gen_ai.usage.output_tokens"] == 10 and attrs["gen_ai.usage.reasoning.output_tokens"] == 4
    assert attrs["gen_ai.usage.input_tokens"] == 30
    assert span.end_time is not None and span.start_time is not None
    assert 0 < attrs["gen_ai.response.time_to_first_chunk"] <= (span.end_time - span.start_time) / 1e9
    [ttfc] = sink.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1


def test_early_break_and_gc_end_spans(sink: Sink, client: genai.Client) -> None:
    for _ in client.models.generate_content_stream(model="g1", contents="hi"):
        break
    gc.collect()
    stream: Any = client.models.generate_content_stream(model="g2", contents="hi")  # a generator
    next(stream)
    stream.close()
    client.models.generate_content(model="g3", contents="hi")
    assert [s.name for s in sink.finished()] == ["chat g1", "chat g2", "chat g3"]
    assert all(s.status.status_code is StatusCode.UNSET for s in sink.finished())


@pytest.mark.parametrize(("model", "error_type"), [
    ("fail-429", "rate_limit"), ("fail-500", "server_error"), ("fail-401", "authentication"),
    ("fail-context", "context_length_exceeded"),
])
def test_errors_are_raised_unchanged_and_classified(client: genai.Client, model: str, error_type: str) -> None:
    def call() -> errors.APIError:
        with pytest.raises(errors.APIError) as caught:
            client.models.generate_content(model=model, contents="hi")
        return caught.value

    plain = call()
    with instrumented(GoogleGenAIInstrumentor()) as sink:
        observed = call()
    assert (type(observed), str(observed), observed.code) == (type(plain), str(plain), plain.code)
    span = sink.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert attrs_of(span)["error.type"] == error_type


def test_midstream_error_fails_the_span(sink: Sink, client: genai.Client) -> None:
    seen = []
    with pytest.raises(errors.ServerError):
        for chunk in client.models.generate_content_stream(model="midstream-error", contents="hi"):
            seen.append(chunk.text)
    assert seen == ["The", " answer", " is"]
    span = sink.only_span()
    assert span.status.status_code is StatusCode.ERROR and attrs_of(span)["error.type"] == "server_error"


def test_async_generate_stream_and_embed(sink: Sink, client: genai.Client) -> None:
    async def main() -> tuple[str | None, str, int]:
        response = await client.aio.models.generate_content(model="a1", contents="hi")
        stream = await client.aio.models.generate_content_stream(model="a2", contents="hi")
        text = "".join([c.text or "" async for c in stream])
        embedded = await client.aio.models.embed_content(model="text-embedding-004", contents=["a", "b"])
        return response.text, text, len(embedded.embeddings or [])

    assert asyncio.run(main()) == (ANSWER, ANSWER, 2)
    spans = {s.name: attrs_of(s) for s in sink.finished()}
    assert list(spans) == ["chat a1", "chat a2", "embeddings text-embedding-004"]
    assert spans["chat a2"]["gen_ai.usage.output_tokens"] == 6
    assert spans["chat a2"]["gen_ai.response.finish_reasons"] == ("stop",)
    assert spans["embeddings text-embedding-004"]["gen_ai.embeddings.dimension.count"] == 8
    assert spans["embeddings text-embedding-004"]["gen_ai.usage.input_tokens"] == 8


def test_embed_content(sink: Sink, client: genai.Client) -> None:
    result = client.models.embed_content(model="text-embedding-004", contents="a",
                                         config={"output_dimensionality": 4})
    assert result.embeddings is not None and len(result.embeddings[0].values or ()) == 4
    attrs = attrs_of(sink.only_span())
    assert attrs["gen_ai.operation.name"] == "embeddings"
    assert attrs["gen_ai.embeddings.dimension.count"] == 4 and attrs["gen_ai.usage.input_tokens"] == 4


def test_blocked_prompt_is_reported(sink: Sink, client: genai.Client) -> None:
    response = client.models.generate_content(model="blocked", contents="hi")
    assert response.prompt_feedback is not None
    assert attrs_of(sink.only_span())["gen_ai.response.finish_reasons"] == ("safety",)


def get_weather(city: str) -> str:
    """Weather by city."""
    return f"18 C in {city}"


@pytest.mark.parametrize("stream", [False, True])
def test_content_with_tools_and_thoughts(client: genai.Client, stream: bool) -> None:
    contents: Any = [
        types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]),
        types.Content(role="model", parts=[types.Part(function_call=types.FunctionCall(
            id="c0", name="get_weather", args={"city": "Paris"}))]),
        {"role": "user", "parts": [{"function_response": {"id": "c0", "name": "get_weather",
                                                          "response": {"output": "18 C"}}}]},
    ]
    declaration = {"name": "get_weather", "description": "Weather by city",
                   "parameters_json_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
    config = types.GenerateContentConfig(system_instruction="Be brief.",
                                         tools=[types.Tool(function_declarations=[declaration])])  # type: ignore[list-item]
    with instrumented(GoogleGenAIInstrumentor(), capture_content="SPAN_ONLY") as sink:
        for model in ("tools", "thinking"):
            if stream:
                for _ in client.models.generate_content_stream(model=model, contents=contents, config=config):
                    pass
            else:
                client.models.generate_content(model=model, contents=contents, config=config)
    tools_span, thinking_span = (attrs_of(s) for s in sink.finished())
    assert json.loads(tools_span["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(tools_span["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "c0", "name": "get_weather",
                                         "arguments": {"city": "Paris"}}]},
        {"role": "user", "parts": [{"type": "tool_call_response", "id": "c0", "response": {"output": "18 C"}}]},
    ]
    assert json.loads(tools_span["gen_ai.tool.definitions"]) == [
        {"type": "function", "name": "get_weather", "description": "Weather by city",
         "parameters": declaration["parameters_json_schema"]}]
    assert json.loads(tools_span["gen_ai.output.messages"]) == [
        {"role": "assistant", "finish_reason": "tool_call", "parts": [
            {"type": "tool_call", "id": None, "name": "get_weather", "arguments": {"city": "Paris"}}]}]
    assert json.loads(thinking_span["gen_ai.output.messages"]) == [
        {"role": "assistant", "finish_reason": "stop", "parts": [
            {"type": "reasoning", "content": THINKING}, {"type": "text", "content": ANSWER}]}]


def test_automatic_function_calling_spans_each_model_call(sink: Sink, client: genai.Client,
                                                          provider: ProviderServer) -> None:
    before = len(provider.requests)
    client.models.generate_content(model="tools", contents="Weather in Paris?",
                                   config=types.GenerateContentConfig(
                                       tools=[get_weather],
                                       automatic_function_calling=types.AutomaticFunctionCallingConfig(
                                           maximum_remote_calls=2)))
    model_calls = len(provider.requests) - before
    assert model_calls == 2
    assert [s.name for s in sink.finished()] == ["chat tools"] * model_calls


def test_vertex_client_names_its_provider(sink: Sink, provider: ProviderServer) -> None:
    vertex = genai.Client(vertexai=True, api_key="k", http_options=types.HttpOptions(
        base_url=provider.url, retry_options=types.HttpRetryOptions(attempts=1)))
    with pytest.raises(errors.ClientError):  # Vertex AI's own paths are not served here
        vertex.models.generate_content(model="gemini-2.5-flash", contents="hi")
    attrs = attrs_of(sink.only_span())
    assert attrs["gen_ai.provider.name"] == "gcp.vertex_ai" and attrs["error.type"] == "not_found"


def test_uninstrument_restores_the_sdk(client: genai.Client) -> None:
    with instrumented(GoogleGenAIInstrumentor()) as sink:
        pass  # instrumented, then uninstrumented
    client.models.generate_content(model="after", contents="hi")
    list(client.models.generate_content_stream(model="after", contents="hi"))
    assert not sink.finished()

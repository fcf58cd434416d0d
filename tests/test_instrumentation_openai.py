"""The OpenAI instrumentor with the real `openai` SDK against the local provider server: exact attributes and
metric points, and the application seeing exactly what it sees without llmtap."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

import llmtap
from llmtap.instrumentation.genai.endpoint import provider_of
from llmtap.instrumentation.genai.invocation import Invocation
from llmtap.instrumentation.genai.streams import watch
from llmtap.instrumentation.genai.telemetry import DURATION_BUCKETS, TOKEN_BUCKETS, Telemetry
from llmtap.instrumentation.openai import OpenAIInstrumentor
from tests.providers.server import ProviderServer
from tests.sink import Sink, attrs_of, instrumented

MESSAGES: Any = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the answer?"}]


@pytest.fixture
def sink() -> Iterator[Sink]:
    with instrumented(OpenAIInstrumentor()) as s:
        yield s


@pytest.fixture
def client(provider: ProviderServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{provider.url}/v1", api_key="test", max_retries=0)


@pytest.fixture
def aclient(provider: ProviderServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{provider.url}/v1", api_key="test", max_retries=0)


def test_chat_create_span_and_metrics(sink: Sink, client: openai.OpenAI, provider: ProviderServer) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, temperature=0.2, top_p=0.9, max_tokens=50, stop=["END"], seed=7,
        frequency_penalty=0.1, presence_penalty=0.3, n=2)
    assert completion.choices[0].message.content == "The answer is forty-two."
    span = sink.only_span()
    assert span.name == "chat gpt-4o"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert attrs_of(span) == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
        "server.address": "127.0.0.1", "server.port": provider.port,
        "gen_ai.request.temperature": 0.2, "gen_ai.request.top_p": 0.9, "gen_ai.request.max_tokens": 50,
        "gen_ai.request.stop_sequences": ("END",), "gen_ai.request.seed": 7,
        "gen_ai.request.frequency_penalty": 0.1, "gen_ai.request.presence_penalty": 0.3,
        "gen_ai.request.choice.count": 2, "gen_ai.output.type": "text",
        "gen_ai.response.id": "chatcmpl-test123", "gen_ai.response.model": "gpt-4o-2025-01-01",
        "gen_ai.response.finish_reasons": ("stop", "stop"),
        "openai.response.system_fingerprint": "fp_test", "openai.response.service_tier": "default",
        "gen_ai.usage.input_tokens": 31, "gen_ai.usage.output_tokens": 6,
        "gen_ai.usage.cache_read.input_tokens": 12, "gen_ai.usage.reasoning.output_tokens": 3,
    }
    [duration] = sink.points("gen_ai.client.operation.duration")
    assert tuple(duration.explicit_bounds) == DURATION_BUCKETS
    assert duration.count == 1
    assert duration.attributes == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2025-01-01", "server.address": "127.0.0.1", "server.port": provider.port}
    tokens = {p.attributes["gen_ai.token.type"]: p for p in sink.points("gen_ai.client.token.usage")}
    assert tokens["input"].sum == 31 and tokens["output"].sum == 6
    assert tuple(tokens["input"].explicit_bounds) == TOKEN_BUCKETS
    assert not sink.points("gen_ai.client.operation.time_to_first_chunk")
    assert not sink.logs.get_finished_logs()  # content is off by default: no event, no content attributes


def _chunks(client: openai.OpenAI, **kwargs: Any) -> list[dict[str, Any]]:
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True, **kwargs)
    assert type(stream) is openai.Stream
    with stream:
        return [c.model_dump() for c in stream]


def test_stream_is_unchanged_and_reports_usage_and_ttfc(client: openai.OpenAI, provider: ProviderServer) -> None:
    plain = _chunks(client)
    with instrumented(OpenAIInstrumentor(), include_stream_usage=True) as sink:
        observed = _chunks(client)
    assert observed == plain  # the usage-only chunk llmtap asked for is hidden
    assert provider.requests[-1][1]["stream_options"] == {"include_usage": True}
    span = sink.only_span()
    attrs = attrs_of(span)
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.usage.input_tokens"] == 31 and attrs["gen_ai.usage.output_tokens"] == 6
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.response.id"] == "chatcmpl-test123"
    assert span.end_time is not None and span.start_time is not None
    assert 0 < attrs["gen_ai.response.time_to_first_chunk"] <= (span.end_time - span.start_time) / 1e9
    [ttfc] = sink.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1 and tuple(ttfc.explicit_bounds) == DURATION_BUCKETS


def test_stream_usage_the_app_asked_for_stays_visible(sink: Sink, client: openai.OpenAI) -> None:
    chunks = _chunks(client, stream_options={"include_usage": True})
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 31
    assert sink.only_span().attributes["gen_ai.usage.output_tokens"] == 6  # type: ignore[index]


def test_early_break_close_gc_and_other_threads_end_spans(sink: Sink, client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="m1", messages=MESSAGES, stream=True)
    next(iter(stream))
    stream.close()
    assert [s.name for s in sink.finished()] == ["chat m1"]

    stream = client.chat.completions.create(model="m2", messages=MESSAGES, stream=True)
    for _ in stream:
        break
    del stream
    gc.collect()
    assert [s.name for s in sink.finished()][-1] == "chat m2"

    stream = client.chat.completions.create(model="m3", messages=MESSAGES, stream=True)
    seen: list[str] = []
    worker = threading.Thread(target=lambda: seen.extend(c.choices[0].delta.content or "" for c in stream
                                                         if c.choices))
    worker.start()
    worker.join()
    assert "".join(seen) == "The answer is forty-two."
    client.chat.completions.create(model="m4", messages=MESSAGES)
    assert [s.name for s in sink.finished()][-2:] == ["chat m3", "chat m4"]
    assert sink.finished()[-2].attributes["gen_ai.response.finish_reasons"] == ("stop",)  # type: ignore[index]


def test_stream_helper_is_traced_once(sink: Sink, client: openai.OpenAI) -> None:
    with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:  # type: ignore[arg-type]
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "The answer is forty-two."
    span = sink.only_span()
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)  # type: ignore[index]


@pytest.mark.parametrize(("model", "error", "error_type"), [
    ("fail-429", openai.RateLimitError, "rate_limit"),
    ("fail-500", openai.InternalServerError, "server_error"),
    ("fail-401", openai.AuthenticationError, "authentication"),
    ("fail-context", openai.BadRequestError, "context_length_exceeded"),
    ("fail-filter", openai.BadRequestError, "content_filter"),
])
def test_errors_are_raised_unchanged_and_classified(client: openai.OpenAI, model: str, error: type[Exception],
                                                    error_type: str) -> None:
    with pytest.raises(error) as plain:
        client.chat.completions.create(model=model, messages=MESSAGES)
    with instrumented(OpenAIInstrumentor()) as sink, pytest.raises(error) as traced:
        client.chat.completions.create(model=model, messages=MESSAGES)
    assert type(traced.value) is type(plain.value)
    assert str(traced.value) == str(plain.value)
    assert traced.value.status_code == plain.value.status_code  # type: ignore[attr-defined]
    assert traced.value.body == plain.value.body  # type: ignore[attr-defined]
    span = sink.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == error_type  # type: ignore[index]
    [duration] = sink.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == error_type


def test_timeout_and_connection_errors(sink: Sink, provider: ProviderServer) -> None:
    slow = openai.OpenAI(base_url=f"{provider.url}/v1", api_key="t", max_retries=0, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        slow.chat.completions.create(model="slow", messages=MESSAGES)
    dead = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="t", max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        dead.chat.completions.create(model="x", messages=MESSAGES)
    assert [s.attributes["error.type"] for s in sink.finished()] == ["timeout", "connection"]  # type: ignore[index]


def test_midstream_error_fails_the_span(sink: Sink, client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(model="midstream-error", messages=MESSAGES, stream=True):
            pass
    span = sink.only_span()
    assert span.status.status_code is StatusCode.ERROR


def test_raw_and_streaming_responses(sink: Sink, client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="raw", messages=MESSAGES)
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("application/json")
    assert raw.parse().choices[0].message.content == "The answer is forty-two."
    raw_stream = client.chat.completions.with_raw_response.create(model="raw-stream", messages=MESSAGES, stream=True)
    assert raw_stream.status_code == 200 and "text/event-stream" in raw_stream.headers["content-type"]
    stream = raw_stream.parse()
    assert type(stream) is openai.Stream
    assert sum(1 for _ in stream) == 8
    with client.chat.completions.with_streaming_response.create(model="streaming", messages=MESSAGES) as resp:
        assert resp.status_code == 200
        assert resp.parse().usage.prompt_tokens == 31  # type: ignore[union-attr]
    spans = {s.name: attrs_of(s) for s in sink.finished()}
    assert spans["chat raw"]["gen_ai.usage.input_tokens"] == 31
    assert spans["chat raw-stream"]["gen_ai.response.finish_reasons"] == ("stop",)
    assert spans["chat streaming"]["gen_ai.response.id"] == "chatcmpl-test123"


def test_async_chat_and_stream(sink: Sink, aclient: openai.AsyncOpenAI) -> None:
    async def run() -> list[str]:
        completion = await aclient.chat.completions.create(model="a1", messages=MESSAGES)
        assert completion.usage is not None and completion.usage.total_tokens == 37
        stream = await aclient.chat.completions.create(model="a2", messages=MESSAGES, stream=True)
        assert type(stream) is openai.AsyncStream
        words: list[str] = []
        async with stream:
            async for chunk in stream:
                words.extend(c.delta.content or "" for c in chunk.choices)
        stream = await aclient.chat.completions.create(model="a3", messages=MESSAGES, stream=True)
        async for _ in stream:
            break
        await stream.close()
        return words

    assert "".join(asyncio.run(run())) == "The answer is forty-two."
    assert [s.name for s in sink.finished()] == ["chat a1", "chat a2", "chat a3"]
    assert sink.finished()[1].attributes["gen_ai.response.finish_reasons"] == ("stop",)  # type: ignore[index]


def test_responses_api_and_embeddings(sink: Sink, client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-5", input="Hi", instructions="Be brief.", max_output_tokens=40)
    assert response.output_text == "The answer is forty-two."
    events = [e.type for e in client.responses.create(model="gpt-5s", input="Hi", stream=True)]
    assert events[0] == "response.created" and events[-1] == "response.completed"
    vectors = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"], dimensions=4)
    assert len(vectors.data[0].embedding) == 4
    resp, stream, emb = (attrs_of(s) for s in sink.finished())
    assert resp["gen_ai.request.max_tokens"] == 40 and resp["gen_ai.usage.cache_read.input_tokens"] == 10
    assert resp["gen_ai.response.finish_reasons"] == ("stop",) and resp["gen_ai.usage.reasoning.output_tokens"] == 2
    assert stream["gen_ai.usage.output_tokens"] == 6 and stream["gen_ai.response.time_to_first_chunk"] > 0
    assert emb == {"gen_ai.operation.name": "embeddings", "gen_ai.provider.name": "openai",
                   "gen_ai.request.model": "text-embedding-3-small", "server.address": "127.0.0.1",
                   "server.port": emb["server.port"], "gen_ai.embeddings.dimension.count": 4,
                   "gen_ai.response.model": "text-embedding-3-small", "gen_ai.usage.input_tokens": 16}


def test_content_on_span_and_as_event(provider: ProviderServer, client: openai.OpenAI) -> None:
    with instrumented(OpenAIInstrumentor(), capture_content="SPAN_AND_EVENT") as sink:
        client.chat.completions.create(model="tools", messages=[*MESSAGES, {
            "role": "assistant", "content": None, "tool_calls": [{"id": "c0", "type": "function", "function": {
                "name": "lookup", "arguments": "{\"q\": \"é\"}"}}]}, {"role": "tool", "tool_call_id": "c0",
                                                                         "content": "42"}],
            tools=[{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                                     "parameters": {"type": "object"}}}])
    attrs = attrs_of(sink.only_span())
    assert json.loads(attrs["gen_ai.input.messages"]) == [  # type: ignore[arg-type]
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "What is the answer?"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "c0", "name": "lookup", "arguments": {"q": "é"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c0", "response": 42}]},
    ]
    assert json.loads(attrs["gen_ai.output.messages"]) == [  # type: ignore[arg-type]
        {"role": "assistant", "finish_reason": "tool_calls", "parts": [
            {"type": "tool_call", "id": "call_abc123", "name": "get_weather", "arguments": {"city": "Paris"}}]}]
    assert json.loads(attrs["gen_ai.tool.definitions"]) == [  # type: ignore[arg-type]
        {"type": "function", "name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}]
    [event] = sink.logs.get_finished_logs()
    record = event.log_record
    assert record.event_name == "gen_ai.client.inference.operation.details"
    assert record.attributes["gen_ai.output.messages"] == attrs["gen_ai.output.messages"]  # type: ignore[index]
    assert record.trace_id == sink.only_span().context.trace_id


def test_attribution_in_sync_code_and_asyncio_tasks(sink: Sink, client: openai.OpenAI,
                                                    aclient: openai.AsyncOpenAI) -> None:
    with llmtap.attributes(user_id="u-1", session_id="s-1", tenant_id="acme", feature="search"):
        client.chat.completions.create(model="x", messages=MESSAGES)

        async def in_task() -> None:
            with llmtap.attributes(user_id="u-2"):
                await asyncio.create_task(aclient.chat.completions.create(model="y", messages=MESSAGES))

        asyncio.run(in_task())
    client.chat.completions.create(model="z", messages=MESSAGES)
    x, y, z = (attrs_of(s) for s in sink.finished())
    assert {k: x[k] for k in ("user.id", "session.id", "gen_ai.conversation.id", "llmtap.tenant.id", "feature")} == {
        "user.id": "u-1", "session.id": "s-1", "gen_ai.conversation.id": "s-1", "llmtap.tenant.id": "acme",
        "feature": "search"}
    assert y["user.id"] == "u-2" and y["llmtap.tenant.id"] == "acme"
    assert "user.id" not in z


def test_azure_and_compatible_providers(sink: Sink, provider: ProviderServer) -> None:
    azure = openai.AzureOpenAI(azure_endpoint=provider.url, api_key="k", api_version="2024-10-21",
                               azure_deployment="prod-gpt", max_retries=0)
    azure.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert sink.only_span().attributes["gen_ai.provider.name"] == "azure.ai.openai"  # type: ignore[index]
    assert provider_of("api.groq.com", 443) == "groq"
    assert provider_of("my-res.openai.azure.com", 443) == "azure.ai.openai"
    assert provider_of("localhost", 11434) == "ollama"
    assert provider_of("vllm.internal", 8000) == "openai"


def test_llmtap_errors_never_reach_the_app(sink: Sink, client: openai.OpenAI,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from llmtap.instrumentation.openai import chat

    def broken(*_: Any) -> None:
        raise RuntimeError("bug in llmtap")

    monkeypatch.setattr(chat, "record_response", broken)
    monkeypatch.setattr(chat.ChunkAccumulator, "observe", broken)
    assert client.chat.completions.create(model="x", messages=MESSAGES).choices[0].finish_reason == "stop"
    assert len(list(client.chat.completions.create(model="y", messages=MESSAGES, stream=True))) == 8
    assert [s.name for s in sink.finished()] == ["chat x", "chat y"]


def test_uninstrument_restores_the_sdk(client: openai.OpenAI) -> None:
    with instrumented(OpenAIInstrumentor()) as sink:
        OpenAIInstrumentor()  # the instrumentor is a singleton: constructing it again must not forget the wrappers
    client.chat.completions.create(model="x", messages=MESSAGES)
    assert not sink.finished()
    for cls in (openai.resources.chat.completions.Completions, openai.resources.responses.Responses,
                openai.Stream, openai.AsyncStream):
        assert all(type(v).__name__ == "function" for k, v in vars(cls).items() if k in ("create", "parse", "close"))


def test_a_stream_closed_before_the_end_is_not_a_failure(sink: Sink) -> None:
    telemetry = Telemetry("t", sink.tracer_provider, sink.meter_provider, sink.logger_provider)
    inv = Invocation(telemetry, "chat", "openai", "m", {})
    inv.detach()
    watched = watch(inv, iter([1, 2, 3]), lambda _inv, _item: True, lambda _inv: None)
    assert next(watched) == 1
    watched.close()  # what the interpreter does to an abandoned generator
    span = sink.only_span()
    assert span.status.status_code is StatusCode.UNSET
    assert "error.type" not in attrs_of(span)

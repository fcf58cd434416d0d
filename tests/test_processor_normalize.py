"""The `normalize` processor on what real instrumentations emit: each fixture in tests/fixtures/normalize was
captured by running that library against the local OpenAI-compatible server (`make fixtures`), for the same
three calls: a chat completion, the same streamed, and one answered with a tool call."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from llmtap import semconv
from llmtap.collector.attributes import value_of
from llmtap.collector.component import Processor
from llmtap.collector.signals import Batch, Signal
from llmtap.processors.cost import CostConfig, CostProcessor
from llmtap.processors.normalize import NormalizeConfig, NormalizeProcessor
from llmtap.processors.normalize.conventions import EVENTS, EXACT, PREFIXES, RENAMES
from llmtap.processors.normalize.processor import FOREIGN
from tests.otlp_data import genai_spans, kv

FIXTURES = Path(__file__).parent / "fixtures" / "normalize"

# What each library records (so what normalize can give back): message content, cache-read tokens, usage on
# the streamed call, the tool call in the output, the tool definitions, the OpenAI `user` parameter.
CAPTURES: dict[str, dict[str, bool]] = {
    "traceloop": dict(content=True, cache=True, stream_usage=True, tool_output=True, tools=True, user=True),
    "traceloop-0.40": dict(content=True, cache=True, stream_usage=False, tool_output=True, tools=True, user=True),
    "openlit": dict(content=True, cache=True, stream_usage=True, tool_output=True, tools=False, user=True),
    "openlit-1.33": dict(content=True, cache=False, stream_usage=False, tool_output=False, tools=False, user=True),
    "openinference": dict(content=True, cache=True, stream_usage=True, tool_output=True, tools=True, user=True),
    "openai-v2": dict(content=False, cache=False, stream_usage=True, tool_output=False, tools=False, user=False),
    "openai-v2-latest": dict(content=True, cache=False, stream_usage=True, tool_output=True, tools=False,
                             user=False),
    "openai-v2-2.1b0": dict(content=False, cache=False, stream_usage=True, tool_output=False, tools=False,
                            user=False),
}


def _run(processor: Processor, batch: Batch) -> Batch:
    out = asyncio.run(processor.process(batch))
    assert out is not None
    return out


def _load(name: str) -> tuple[dict[str, Any], ExportTraceServiceRequest, ExportLogsServiceRequest]:
    fixture = json.loads((FIXTURES / f"{name}.json").read_text())
    traces = json_format.ParseDict(fixture["traces"], ExportTraceServiceRequest())
    logs = json_format.ParseDict(fixture["logs"], ExportLogsServiceRequest())
    return fixture, traces, logs


def _spans(request: ExportTraceServiceRequest) -> list[Any]:
    return [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]


def _attrs(item: Any) -> dict[str, Any]:
    return {kv_.key: value_of(kv_.value) for kv_ in item.attributes}


def test_every_fixture_is_checked() -> None:
    assert {p.stem for p in FIXTURES.glob("*.json")} == set(CAPTURES)


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_real_instrumentations_land_in_the_current_shape(name: str) -> None:
    fixture, traces, _ = _load(name)
    captures = CAPTURES[name]
    # As received over the wire: the request-level prefilter (wire.py) must let every one of them through.
    batch = _run(NormalizeProcessor("normalize", NormalizeConfig()),
                 Batch(Signal.TRACES, traces, traces.SerializeToString()))
    spans = _spans(batch.message)  # type: ignore[arg-type]
    assert len(spans) >= 2, f"{fixture['library']} {fixture['version']} recorded too little"
    for span in spans:
        attrs = _attrs(span)
        model = attrs["gen_ai.request.model"]
        streamed = model == "gpt-4o-mini" and len([s for s in spans if _attrs(s).get("gen_ai.request.model")
                                                    == "gpt-4o-mini"]) > 1 and span is spans[1]
        assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.provider.name"] == "openai"
        assert model in ("gpt-4o-mini", "tools") and attrs["gen_ai.response.model"] == f"{model}-2025-01-01"
        assert span.name == f"chat {model}"
        leftovers = {k for k in attrs if k in RENAMES or k.startswith(("gen_ai.prompt", "gen_ai.completion",
                                                                         "llm.input_messages", "llm.output_messages",
                                                                         "llm.token_count", "llm.tools"))}
        leftovers -= {k for k in leftovers if k.endswith(".audio")}  # audio tokens have no current name: kept
        assert not leftovers, f"{name}: originals left: {leftovers}"
        if not streamed or captures["stream_usage"]:
            assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (31, 6)
        if captures["cache"] and not streamed:
            assert attrs["gen_ai.usage.cache_read.input_tokens"] == 12
        if captures["user"] and model == "gpt-4o-mini" and not streamed:
            assert attrs["user.id"] == "user-42"
        if not captures["content"]:
            assert "gen_ai.input.messages" not in attrs
            continue
        inputs = json.loads(attrs["gen_ai.input.messages"])
        if model == "tools":
            assert inputs == [{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]
            outputs = json.loads(attrs.get("gen_ai.output.messages", "[]"))
            if captures["tool_output"]:
                call = outputs[0]["parts"][0]
                assert {k: call.get(k) for k in ("type", "name", "id", "arguments")} == {
                    "type": "tool_call", "name": "get_weather", "id": "call_abc123", "arguments": {"city": "Paris"}}
            if captures["tools"]:
                [tool] = json.loads(attrs["gen_ai.tool.definitions"])
                assert tool["name"] == "get_weather" and tool["parameters"]["required"] == ["city"]
        else:
            question = "What is the capital of France?"
            assert inputs == [{"role": "system", "parts": [{"type": "text", "content": "You are terse."}]},
                              {"role": "user", "parts": [{"type": "text", "content": question}]}]
            [output] = json.loads(attrs["gen_ai.output.messages"])
            assert output["role"] == "assistant" and output["finish_reason"] == "stop"
            assert [p["content"] for p in output["parts"] if p["type"] == "text"] == ["The answer is forty-two."]
            if not streamed:  # some record no finish reasons on streams
                assert attrs["gen_ai.response.finish_reasons"] == ["stop"]


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_normalized_spans_are_priced(name: str) -> None:
    """What normalize is for: the cost processor (which reads only current names) prices every call."""
    _, traces, _ = _load(name)
    batch = _run(NormalizeProcessor("normalize", NormalizeConfig()), Batch(Signal.TRACES, traces))
    batch = _run(CostProcessor("cost", CostConfig()), batch)
    for span in _spans(batch.message):  # type: ignore[arg-type]
        attrs = _attrs(span)
        if "gen_ai.usage.input_tokens" in attrs and attrs["gen_ai.request.model"] == "gpt-4o-mini":
            assert attrs[semconv.LLMTAP_COST_USD] > 0, name


def test_keep_originals_and_current_names_win() -> None:
    _, traces, _ = _load("openinference")
    span = _spans(traces)[0]
    span.attributes.append(kv("gen_ai.usage.input_tokens", 99))  # a current name already there wins
    batch = _run(NormalizeProcessor("n", NormalizeConfig(keep_originals=True, rename_spans=False)),
                 Batch(Signal.TRACES, traces))
    attrs = _attrs(_spans(batch.message)[0])  # type: ignore[arg-type]
    assert attrs["gen_ai.usage.input_tokens"] == 99 and attrs["llm.token_count.prompt"] == 31
    assert attrs["llm.input_messages.0.message.role"] == "system" and "gen_ai.input.messages" in attrs
    assert _spans(batch.message)[0].name == "ChatCompletion"  # type: ignore[arg-type]


def test_older_event_logs_get_current_names() -> None:
    _, _, logs = _load("openai-v2-2.1b0")
    batch = _run(NormalizeProcessor("n", NormalizeConfig()), Batch(Signal.LOGS, logs, logs.SerializeToString()))
    records = [r for rl in batch.message.resource_logs for sl in rl.scope_logs for r in sl.log_records]  # type: ignore[union-attr]
    assert records and {r.event_name for r in records} >= {"gen_ai.user.message", "gen_ai.choice"}
    for record in records:
        attrs = _attrs(record)
        assert attrs == {"gen_ai.provider.name": "openai"}, attrs
        assert record.body.WhichOneof("value") == "kvlist_value", "bodies are kept"


def test_spans_in_the_current_shape_are_left_alone() -> None:
    _, traces, _ = _load("openai-v2")
    before = traces.SerializeToString()
    batch = Batch(Signal.TRACES, traces, before)
    _run(NormalizeProcessor("n", NormalizeConfig()), batch)
    assert batch.data() is before, "nothing changed, so the received bytes are passed on as they are"


def test_vercel_ai_sdk_calls_but_not_their_wrappers() -> None:
    """The AI SDK is JavaScript; these attributes are written by hand from its telemetry documentation."""
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    outer = spans.add(name="ai.generateText", trace_id=b"t" * 16, span_id=b"a" * 8)
    outer.attributes.extend([kv("ai.operationId", "ai.generateText"), kv("ai.model.id", "gpt-4o"),
                             kv("ai.usage.promptTokens", 20), kv("ai.usage.completionTokens", 5)])
    inner = spans.add(name="ai.generateText.doGenerate", trace_id=b"t" * 16, span_id=b"b" * 8)
    inner.attributes.extend([
        kv("ai.operationId", "ai.generateText.doGenerate"), kv("ai.model.id", "gpt-4o"),
        kv("ai.model.provider", "openai.chat"), kv("ai.usage.promptTokens", 20), kv("ai.usage.completionTokens", 5),
        kv("ai.settings.maxOutputTokens", 100), kv("ai.response.finishReason", "stop"),
        kv("ai.response.msToFirstChunk", 250.0), kv("ai.telemetry.metadata.userId", "u-7"),
        kv("ai.prompt.messages", json.dumps([{"role": "system", "content": "Be brief."},
                                             {"role": "user", "content": [{"type": "text", "text": "Hi"}]}])),
        kv("ai.response.text", "Hello!"),
    ])
    batch = _run(NormalizeProcessor("n", NormalizeConfig()), Batch(Signal.TRACES, request, request.SerializeToString()))
    outer_attrs, inner_attrs = (_attrs(s) for s in _spans(batch.message))  # type: ignore[arg-type]
    assert "gen_ai.operation.name" not in outer_attrs and "gen_ai.usage.input_tokens" not in outer_attrs, \
        "the wrapper span repeats the call's usage: counting it would count the call twice"
    assert {k: inner_attrs.get(k) for k in ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
                                            "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                                            "gen_ai.request.max_tokens", "gen_ai.response.finish_reasons",
                                            "gen_ai.response.time_to_first_chunk", "user.id")} == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 20, "gen_ai.usage.output_tokens": 5, "gen_ai.request.max_tokens": 100,
        "gen_ai.response.finish_reasons": ["stop"], "gen_ai.response.time_to_first_chunk": 0.25, "user.id": "u-7"}
    assert json.loads(inner_attrs["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]
    assert json.loads(inner_attrs["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Hello!"}], "finish_reason": "stop"}]
    assert not any(k.startswith("ai.") and k != "ai.operationId" for k in inner_attrs if k in EXACT)


def test_wire_prefilter_sees_every_foreign_key_and_clears_the_current_shape() -> None:
    """The request-level prefilter may say yes to a clean request (the per-span check then decides), never no to
    a foreign one: every key, prefix and event name it knows, in spans and in log records, at any key length."""
    keys = [*EXACT, *(prefix + "x" * n for prefix in PREFIXES for n in (1, 200))]  # 200: a two-byte length
    for key in keys:
        request = ExportTraceServiceRequest()
        span = request.resource_spans.add().scope_spans.add().spans.add(name="s")
        span.attributes.extend([kv("gen_ai.operation.name", "chat"), kv(key, "v")])
        assert FOREIGN.maybe_in(request.SerializeToString()), key
        logs = ExportLogsServiceRequest()
        logs.resource_logs.add().scope_logs.add().log_records.add().attributes.append(kv(key, 1))
        assert FOREIGN.maybe_in(logs.SerializeToString()), key
    for event in EVENTS:
        request = ExportTraceServiceRequest()
        request.resource_spans.add().scope_spans.add().spans.add(name="s").events.add(name=event)
        assert FOREIGN.maybe_in(request.SerializeToString()), event
    # The current shape, with message content that names other conventions' keys in its text.
    clean = genai_spans(50, content_bytes=300)
    text = "see gen_ai.system, llm.model_name and ai.usage.promptTokens in the docs"
    clean.resource_spans[0].scope_spans[0].spans[0].attributes.append(kv("gen_ai.system_instructions", text))
    data = clean.SerializeToString()
    assert not FOREIGN.maybe_in(data)
    batch = Batch(Signal.TRACES, clean, data)
    _run(NormalizeProcessor("n", NormalizeConfig()), batch)
    assert batch.data() is data

"""Chat Completions (`chat.completions.create/parse/stream`): request parameters, response, stream chunks."""

from __future__ import annotations

from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.util.types import AttributeValue

from llmtap.instrumentation.genai import messages as m
from llmtap.instrumentation.genai.invocation import Invocation
from llmtap.instrumentation.genai.messages import given

OPERATION = "chat"

def request_attributes(kwargs: dict[str, Any]) -> dict[str, AttributeValue]:
    attrs: dict[str, AttributeValue] = {}
    g = kwargs.get
    for key, name in ((gen_ai.GEN_AI_REQUEST_TEMPERATURE, "temperature"), (gen_ai.GEN_AI_REQUEST_TOP_P, "top_p"),
                      (gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY, "frequency_penalty"),
                      (gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY, "presence_penalty"),
                      (gen_ai.GEN_AI_REQUEST_SEED, "seed")):
        value = g(name)
        if given(value) and isinstance(value, int | float):
            attrs[key] = value
    max_tokens = g("max_completion_tokens")
    if not given(max_tokens):
        max_tokens = g("max_tokens")
    if given(max_tokens) and isinstance(max_tokens, int):
        attrs[gen_ai.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    stop = g("stop")
    if given(stop):
        if isinstance(stop, str):
            attrs[gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop]
        elif isinstance(stop, list | tuple):
            attrs[gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES] = [str(s) for s in stop]
    n = g("n")
    if given(n) and isinstance(n, int) and n != 1:
        attrs[gen_ai.GEN_AI_REQUEST_CHOICE_COUNT] = n
    attrs[gen_ai.GEN_AI_OUTPUT_TYPE] = output_type(g("response_format"))
    tier = g("service_tier")
    if given(tier) and isinstance(tier, str):
        attrs["openai.request.service_tier"] = tier
    if g("stream") is True:
        attrs[gen_ai.GEN_AI_REQUEST_STREAM] = True
    return attrs


def output_type(response_format: Any) -> str:
    if not given(response_format):
        return "text"
    if isinstance(response_format, dict):
        kind = response_format.get("type")
        return "json" if kind in ("json_object", "json_schema") else "text"
    return "json"  # a pydantic model class given to `.parse()` / `.stream()`


def record_input(inv: Invocation, kwargs: dict[str, Any]) -> None:
    """Content: the request's messages and tool definitions (only called with capture on)."""
    m.record_request(inv, kwargs, input_message, tool_definition)


def input_message(msg: Any) -> m.Message:
    role = m.get(msg, "role")
    parts: list[m.Part] = []
    if role == "tool":
        return m.message(role, [m.tool_call_response(m.get(msg, "tool_call_id"), m.get(msg, "content"))])
    content = m.get(msg, "content")
    if isinstance(content, str):
        parts.append(m.text(content))
    elif isinstance(content, list):
        for part in content:
            kind = m.get(part, "type")
            if kind == "text":
                parts.append(m.text(m.get(part, "text", "")))
            elif kind in ("image_url", "input_audio", "file"):
                parts.append(m.other(kind))
    for call in m.get(msg, "tool_calls") or ():
        fn = m.get(call, "function")
        parts.append(m.tool_call(m.get(call, "id"), m.get(fn, "name"), m.get(fn, "arguments")))
    return m.message(role, parts)


def tool_definition(tool: Any) -> m.Part:
    fn = m.get(tool, "function")
    if fn is None:
        return {"type": m.get(tool, "type") or "unknown"}
    return m.function_tool(m.get(fn, "name"), m.get(fn, "description"), m.get(fn, "parameters"))


def record_response(inv: Invocation, completion: Any) -> None:
    inv.set(gen_ai.GEN_AI_RESPONSE_ID, getattr(completion, "id", None))
    inv.set(gen_ai.GEN_AI_RESPONSE_MODEL, getattr(completion, "model", None))
    choices = getattr(completion, "choices", None) or ()
    inv.set(gen_ai.GEN_AI_RESPONSE_FINISH_REASONS, [str(c.finish_reason) for c in choices if c.finish_reason])
    inv.set("openai.response.system_fingerprint", getattr(completion, "system_fingerprint", None))
    inv.set("openai.response.service_tier", getattr(completion, "service_tier", None))
    record_usage(inv, getattr(completion, "usage", None))
    if inv.telemetry.capture.enabled:
        out = []
        for choice in choices:
            msg = choice.message
            parts: list[m.Part] = []
            if getattr(msg, "content", None):
                parts.append(m.text(msg.content))
            if getattr(msg, "refusal", None):
                parts.append(m.text(msg.refusal))
            for call in getattr(msg, "tool_calls", None) or ():
                fn = getattr(call, "function", None)
                if fn is not None:
                    parts.append(m.tool_call(call.id, fn.name, fn.arguments))
            out.append(m.message("assistant", parts, choice.finish_reason))
        inv.set_content(gen_ai.GEN_AI_OUTPUT_MESSAGES, out)


def record_usage(inv: Invocation, usage: Any) -> None:
    if usage is None:
        return
    inv.usage(getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None),
              cache_read=getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None),
              reasoning=getattr(getattr(usage, "completion_tokens_details", None), "reasoning_tokens", None))


def accumulator(hide_usage_chunk: bool) -> ChunkAccumulator:
    return ChunkAccumulator(hide_usage_chunk)


class ChunkAccumulator:
    """What a chat stream tells, chunk by chunk: id, model, finish reasons, usage, and (with capture on) the
    assembled text and tool calls per choice."""

    __slots__ = ("calls", "finish", "hide_usage_chunk", "model", "response_id", "texts")

    def __init__(self, hide_usage_chunk: bool):
        self.hide_usage_chunk = hide_usage_chunk
        self.response_id: str | None = None
        self.model: str | None = None
        self.finish: dict[int, str] = {}
        self.texts: dict[int, list[str]] = {}
        self.calls: dict[int, dict[int, dict[str, Any]]] = {}

    def observe(self, inv: Invocation, chunk: Any) -> bool:
        if self.response_id is None:
            self.response_id = getattr(chunk, "id", None)
            self.model = getattr(chunk, "model", None)
        choices = chunk.choices
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            record_usage(inv, usage)
            if not choices and self.hide_usage_chunk:
                return False
        capture = inv.telemetry.capture.enabled
        for choice in choices:
            if choice.finish_reason:
                self.finish[choice.index] = choice.finish_reason
            if capture:
                delta = choice.delta
                if delta is None:
                    continue
                if delta.content:
                    self.texts.setdefault(choice.index, []).append(delta.content)
                for call in delta.tool_calls or ():
                    acc = self.calls.setdefault(choice.index, {}).setdefault(
                        call.index, {"id": None, "name": None, "arguments": []})
                    if call.id:
                        acc["id"] = call.id
                    fn = call.function
                    if fn is not None:
                        if fn.name:
                            acc["name"] = fn.name
                        if fn.arguments:
                            acc["arguments"].append(fn.arguments)
        return True

    def finish_stream(self, inv: Invocation) -> None:
        inv.set(gen_ai.GEN_AI_RESPONSE_ID, self.response_id)
        inv.set(gen_ai.GEN_AI_RESPONSE_MODEL, self.model)
        inv.set(gen_ai.GEN_AI_RESPONSE_FINISH_REASONS, [self.finish[i] for i in sorted(self.finish)])
        if inv.telemetry.capture.enabled:
            out = []
            for index in sorted(set(self.texts) | set(self.calls) | set(self.finish)):
                parts: list[m.Part] = []
                if index in self.texts:
                    parts.append(m.text("".join(self.texts[index])))
                for call in self.calls.get(index, {}).values():
                    parts.append(m.tool_call(call["id"], call["name"], "".join(call["arguments"])))
                out.append(m.message("assistant", parts, self.finish.get(index)))
            inv.set_content(gen_ai.GEN_AI_OUTPUT_MESSAGES, out)

"""The Responses API (`responses.create/parse/stream`): request, response object, stream events."""

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
    for key, name in ((gen_ai.GEN_AI_REQUEST_TEMPERATURE, "temperature"), (gen_ai.GEN_AI_REQUEST_TOP_P, "top_p"),
                      (gen_ai.GEN_AI_REQUEST_MAX_TOKENS, "max_output_tokens")):
        value = kwargs.get(name)
        if given(value) and isinstance(value, int | float):
            attrs[key] = value
    text = kwargs.get("text")
    fmt = m.get(text, "format") if given(text) else None
    attrs[gen_ai.GEN_AI_OUTPUT_TYPE] = "json" if m.get(fmt, "type") in ("json_object", "json_schema") or \
        given(kwargs.get("text_format")) else "text"
    if kwargs.get("stream") is True:
        attrs[gen_ai.GEN_AI_REQUEST_STREAM] = True
    return attrs


def record_input(inv: Invocation, kwargs: dict[str, Any]) -> None:
    instructions = kwargs.get("instructions")
    if given(instructions) and instructions:
        inv.set_content(gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS, [m.text(instructions)])
    items: Any = kwargs.get("input")
    if isinstance(items, str):
        inv.set_content(gen_ai.GEN_AI_INPUT_MESSAGES, [m.message("user", [m.text(items)])])
    elif given(items):
        inv.set_content(gen_ai.GEN_AI_INPUT_MESSAGES, [_input_item(item) for item in items])
    tools: Any = kwargs.get("tools")
    if given(tools):
        inv.set_content(gen_ai.GEN_AI_TOOL_DEFINITIONS, [
            m.function_tool(m.get(t, "name"), m.get(t, "description"), m.get(t, "parameters"),
                            kind=m.get(t, "type") or "function") for t in tools])


def _input_item(item: Any) -> m.Message:
    kind = m.get(item, "type")
    if kind == "function_call":
        return m.message("assistant", [m.tool_call(m.get(item, "call_id"), m.get(item, "name"),
                                                   m.get(item, "arguments"))])
    if kind == "function_call_output":
        return m.message("tool", [m.tool_call_response(m.get(item, "call_id"), m.get(item, "output"))])
    content = m.get(item, "content")
    parts: list[m.Part] = []
    if isinstance(content, str):
        parts.append(m.text(content))
    else:
        for part in content or ():
            ptype = m.get(part, "type")
            if ptype in ("input_text", "output_text", "text"):
                parts.append(m.text(m.get(part, "text", "")))
            elif ptype:
                parts.append(m.other(ptype))
    return m.message(m.get(item, "role"), parts)


def record_response(inv: Invocation, response: Any) -> None:
    inv.set(gen_ai.GEN_AI_RESPONSE_ID, getattr(response, "id", None))
    inv.set(gen_ai.GEN_AI_RESPONSE_MODEL, getattr(response, "model", None))
    inv.set(gen_ai.GEN_AI_RESPONSE_FINISH_REASONS, [finish_reason(response)])
    inv.set("openai.response.service_tier", getattr(response, "service_tier", None))
    usage = getattr(response, "usage", None)
    if usage is not None:
        inv.usage(getattr(usage, "input_tokens", None), getattr(usage, "output_tokens", None),
                  cache_read=getattr(getattr(usage, "input_tokens_details", None), "cached_tokens", None),
                  reasoning=getattr(getattr(usage, "output_tokens_details", None), "reasoning_tokens", None))
    if inv.telemetry.capture.enabled:
        parts: list[m.Part] = []
        for item in getattr(response, "output", None) or ():
            kind = getattr(item, "type", None)
            if kind == "message":
                for part in item.content or ():
                    if getattr(part, "type", None) == "output_text":
                        parts.append(m.text(part.text))
                    elif getattr(part, "type", None) == "refusal":
                        parts.append(m.text(part.refusal))
            elif kind == "function_call":
                parts.append(m.tool_call(item.call_id, item.name, item.arguments))
            elif kind == "reasoning":
                for summary in getattr(item, "summary", None) or ():
                    parts.append(m.reasoning(getattr(summary, "text", "")))
        inv.set_content(gen_ai.GEN_AI_OUTPUT_MESSAGES, [m.message("assistant", parts, finish_reason(response))])


def finish_reason(response: Any) -> str:
    status = getattr(response, "status", None)
    if status == "incomplete":
        details = getattr(response, "incomplete_details", None)
        return str(getattr(details, "reason", None) or "incomplete")
    if status == "failed":
        return "error"
    for item in getattr(response, "output", None) or ():
        if getattr(item, "type", None) == "function_call":
            return "tool_calls"
    return "stop"


def accumulator(hide_usage_chunk: bool) -> EventAccumulator:
    return EventAccumulator()


class EventAccumulator:
    """A Responses stream ends with `response.completed` (or `.incomplete`/`.failed`) carrying the whole
    response, usage included; earlier events only need watching for the first chunk."""

    __slots__ = ("final",)

    def __init__(self) -> None:
        self.final: Any = None

    def observe(self, inv: Invocation, event: Any) -> bool:
        kind = getattr(event, "type", "")
        if kind in ("response.completed", "response.incomplete", "response.failed") or \
                (kind == "response.created" and self.final is None):
            self.final = getattr(event, "response", None)
        return True

    def finish_stream(self, inv: Invocation) -> None:
        if self.final is not None:
            record_response(inv, self.final)

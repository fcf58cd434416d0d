"""Messages (`messages.create/parse/stream`): request parameters, the response, stream events.

Anthropic's `input_tokens` leaves out the cached part; the conventions' `gen_ai.usage.input_tokens` includes
it, so the span reports `input_tokens + cache_read_input_tokens + cache_creation_input_tokens`, with the two
cache counts beside it.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.util.types import AttributeValue

from llmtap.instrumentation.genai import messages as m
from llmtap.instrumentation.genai.invocation import Invocation
from llmtap.instrumentation.genai.messages import given

OPERATION = "chat"

FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
                  "model_context_window_exceeded": "length", "tool_use": "tool_call", "refusal": "content_filter"}
"""Anthropic's `stop_reason` in the conventions' output-message vocabulary (the span keeps the raw value)."""


def request_attributes(kwargs: dict[str, Any]) -> dict[str, AttributeValue]:
    """Sampling parameters are read from `extra_body` too: SDK 2.x dropped `temperature`, `top_p` and `top_k`
    from its signature, and applications that still send them do it there."""
    attrs: dict[str, AttributeValue] = {}
    extra = kwargs.get("extra_body")
    g = {**extra, **kwargs}.get if isinstance(extra, dict) else kwargs.get
    for key, name, kind in ((gen_ai.GEN_AI_REQUEST_MAX_TOKENS, "max_tokens", int),
                            (gen_ai.GEN_AI_REQUEST_TEMPERATURE, "temperature", int | float),
                            (gen_ai.GEN_AI_REQUEST_TOP_P, "top_p", int | float),
                            (gen_ai.GEN_AI_REQUEST_TOP_K, "top_k", int | float)):
        value = g(name)
        if given(value) and isinstance(value, kind):
            attrs[key] = value
    stop = g("stop_sequences")
    if given(stop) and isinstance(stop, list | tuple):
        attrs[gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES] = [str(s) for s in stop]
    config = g("output_config")
    structured = given(g("output_format")) or (isinstance(config, dict) and given(config.get("format")))
    attrs[gen_ai.GEN_AI_OUTPUT_TYPE] = "json" if structured else "text"
    thinking = g("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
        attrs["anthropic.request.thinking.type"] = str(thinking["type"])
        budget = thinking.get("budget_tokens")
        if isinstance(budget, int):
            attrs["anthropic.request.thinking.budget_tokens"] = budget
    tier = g("service_tier")
    if given(tier) and isinstance(tier, str):
        attrs["anthropic.request.service_tier"] = tier
    if g("stream") is True:
        attrs[gen_ai.GEN_AI_REQUEST_STREAM] = True
    return attrs


def record_input(inv: Invocation, kwargs: dict[str, Any]) -> None:
    """Content: system prompt, messages and tool definitions (only called with capture on)."""
    system: Any = kwargs.get("system")
    if given(system):
        inv.set_content(gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS,
                        [m.text(system)] if isinstance(system, str) else [part(block) for block in system])
    m.record_request(inv, kwargs, input_message, tool_definition)


def input_message(msg: Any) -> m.Message:
    content = m.get(msg, "content")
    parts = [m.text(content)] if isinstance(content, str) else [part(block) for block in content or ()]
    return m.message(m.get(msg, "role"), parts)


def part(block: Any) -> m.Part:
    """A content block (request dict or response model) as a conventions part."""
    kind = m.get(block, "type")
    if kind == "text":
        return m.text(m.get(block, "text", ""))
    if kind in ("tool_use", "server_tool_use"):
        return m.tool_call(m.get(block, "id"), m.get(block, "name"), m.get(block, "input"))
    if kind == "tool_result":
        content = m.get(block, "content")
        if isinstance(content, list):
            content = [m.get(c, "text") if m.get(c, "type") == "text" else {"type": m.get(c, "type")}
                       for c in content]
        return m.tool_call_response(m.get(block, "tool_use_id"), content)
    if kind == "thinking":
        return m.reasoning(m.get(block, "thinking", ""))
    return m.other(str(kind or "unknown"))  # images, documents, redacted thinking: the kind, not the payload


def tool_definition(tool: Any) -> m.Part:
    kind = m.get(tool, "type")
    if kind in (None, "custom"):
        return m.function_tool(m.get(tool, "name"), m.get(tool, "description"), m.get(tool, "input_schema"))
    return m.function_tool(m.get(tool, "name"), kind=str(kind))  # a server tool such as web_search_20250305


def record_response(inv: Invocation, message: Any) -> None:
    inv.set(gen_ai.GEN_AI_RESPONSE_ID, getattr(message, "id", None))
    inv.set(gen_ai.GEN_AI_RESPONSE_MODEL, getattr(message, "model", None))
    stop_reason = getattr(message, "stop_reason", None)
    if stop_reason:
        inv.set(gen_ai.GEN_AI_RESPONSE_FINISH_REASONS, [str(stop_reason)])
    usage = getattr(message, "usage", None)
    if usage is not None:
        record_usage(inv, usage)
        inv.set("anthropic.response.service_tier", getattr(usage, "service_tier", None))
    if inv.telemetry.capture.enabled:
        parts = [part(block) for block in getattr(message, "content", None) or ()]
        inv.set_content(gen_ai.GEN_AI_OUTPUT_MESSAGES, [output_message(parts, stop_reason)])


def output_message(parts: list[m.Part], stop_reason: Any) -> m.Message:
    return m.message("assistant", parts, FINISH_REASONS.get(stop_reason, stop_reason) if stop_reason else None)


def record_usage(inv: Invocation, usage: Any) -> None:
    """`usage` from a message or a `message_delta` event (where absent counts are None)."""
    uncached = getattr(usage, "input_tokens", None)
    cache_read = getattr(usage, "cache_read_input_tokens", None)
    cache_creation = getattr(usage, "cache_creation_input_tokens", None)
    total_input = None
    if isinstance(uncached, int):
        total_input = uncached + (cache_read or 0) + (cache_creation or 0)
    inv.usage(total_input, getattr(usage, "output_tokens", None), cache_read=cache_read,
              cache_creation=cache_creation,
              # an SDK older than the field keeps it as a plain dict (its models allow extra fields)
              reasoning=m.get(m.get(usage, "output_tokens_details"), "thinking_tokens"))


def accumulator(hide_usage_chunk: bool) -> EventAccumulator:
    return EventAccumulator()


class EventAccumulator:
    """What a stream of raw message events tells: id, model and input usage from `message_start`, stop reason
    and final usage from `message_delta`, and (with capture on) the content blocks assembled by index."""

    __slots__ = ("blocks", "stop_reason", "usage")

    def __init__(self) -> None:
        self.stop_reason: str | None = None
        self.usage: dict[str, Any] = {}
        self.blocks: dict[int, dict[str, Any]] = {}

    def observe(self, inv: Invocation, event: Any) -> bool:
        kind = event.type
        if kind == "message_start":
            message = event.message
            inv.set(gen_ai.GEN_AI_RESPONSE_ID, message.id)
            inv.set(gen_ai.GEN_AI_RESPONSE_MODEL, message.model)
            self._usage(message.usage)
        elif kind == "message_delta":
            self.stop_reason = getattr(event.delta, "stop_reason", None) or self.stop_reason
            self._usage(event.usage)
        elif inv.telemetry.capture.enabled:
            if kind == "content_block_start":
                block = event.content_block
                self.blocks[event.index] = {"block": block, "text": [], "json": []}
            elif kind == "content_block_delta":
                acc = self.blocks.get(event.index)
                delta = event.delta
                if acc is not None:
                    if delta.type == "text_delta":
                        acc["text"].append(delta.text)
                    elif delta.type == "thinking_delta":
                        acc["text"].append(delta.thinking)
                    elif delta.type == "input_json_delta":
                        acc["json"].append(delta.partial_json)
        return True

    def _usage(self, usage: Any) -> None:
        """Later events carry cumulative counts; a count absent (None) keeps the earlier one."""
        if usage is None:
            return
        for name in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
            value = getattr(usage, name, None)
            if value is not None:
                self.usage[name] = value
        details = getattr(usage, "output_tokens_details", None)
        if details is not None:
            self.usage["output_tokens_details"] = details

    def finish_stream(self, inv: Invocation) -> None:
        if self.stop_reason:
            inv.set(gen_ai.GEN_AI_RESPONSE_FINISH_REASONS, [self.stop_reason])
        if self.usage:
            record_usage(inv, SimpleNamespace(**self.usage))
        if inv.telemetry.capture.enabled:
            parts = []
            for index in sorted(self.blocks):
                acc = self.blocks[index]
                block = acc["block"]
                if block.type in ("text", "thinking"):
                    parts.append(part({"type": block.type, "text": "".join(acc["text"]),
                                       "thinking": "".join(acc["text"])}))
                elif block.type in ("tool_use", "server_tool_use"):
                    arguments = "".join(acc["json"]) or getattr(block, "input", None)
                    parts.append(m.tool_call(block.id, block.name, arguments))
                else:
                    parts.append(part(block))
            inv.set_content(gen_ai.GEN_AI_OUTPUT_MESSAGES, [output_message(parts, self.stop_reason)])

"""`models.generate_content` and `generate_content_stream`: the request's config, the response, stream chunks.

Each call the SDK makes to the model is one span: the instrumentor wraps the SDK's per-request methods, so
automatic function calling and automatic continuation, which repeat requests inside one `generate_content`,
show one span per model call, as the conventions define an inference.

Gemini counts `thoughts_token_count` beside `candidates_token_count`; the conventions' output tokens include
reasoning (as OpenAI's and Anthropic's do), so the span reports their sum, with the thoughts as reasoning tokens.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.util.types import AttributeValue

from llmtap.instrumentation.genai import messages as m
from llmtap.instrumentation.genai.invocation import Invocation

OPERATION = "chat"

FINISH_REASONS = {"stop": "stop", "max_tokens": "length", "malformed_function_call": "error",
                  "unexpected_tool_call": "error"}
"""Gemini's finish reasons in the conventions' output-message vocabulary; the safety family is content_filter."""
_FILTERED = ("safety", "recitation", "blocklist", "prohibited_content", "spii", "image_safety",
             "image_prohibited_content", "image_recitation")


def field(obj: Any, name: str) -> Any:
    """A config or content field, from the SDK's pydantic model or from a dict in snake_case or camelCase."""
    value = m.get(obj, name)
    if value is None and isinstance(obj, dict):
        head, *rest = name.split("_")
        value = obj.get(head + "".join(word.title() for word in rest))
    return value


def request_attributes(kwargs: dict[str, Any]) -> dict[str, AttributeValue]:
    config = kwargs.get("config")
    attrs: dict[str, AttributeValue] = {}
    for key, name, kind in ((gen_ai.GEN_AI_REQUEST_TEMPERATURE, "temperature", int | float),
                            (gen_ai.GEN_AI_REQUEST_TOP_P, "top_p", int | float),
                            (gen_ai.GEN_AI_REQUEST_TOP_K, "top_k", int | float),
                            (gen_ai.GEN_AI_REQUEST_MAX_TOKENS, "max_output_tokens", int),
                            (gen_ai.GEN_AI_REQUEST_SEED, "seed", int),
                            (gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY, "presence_penalty", int | float),
                            (gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY, "frequency_penalty", int | float)):
        value = field(config, name)
        if isinstance(value, kind) and not isinstance(value, bool):
            attrs[key] = value
    stop = field(config, "stop_sequences")
    if isinstance(stop, list | tuple) and stop:
        attrs[gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES] = [str(s) for s in stop]
    count = field(config, "candidate_count")
    if isinstance(count, int) and count != 1:
        attrs[gen_ai.GEN_AI_REQUEST_CHOICE_COUNT] = count
    mime = field(config, "response_mime_type")
    structured = mime == "application/json" or field(config, "response_schema") is not None \
        or field(config, "response_json_schema") is not None
    attrs[gen_ai.GEN_AI_OUTPUT_TYPE] = "json" if structured else "text"
    if kwargs.get("stream") is True:
        attrs[gen_ai.GEN_AI_REQUEST_STREAM] = True
    return attrs


# -- content ----------------------------------------------------------------------------------------------

def record_input(inv: Invocation, kwargs: dict[str, Any]) -> None:
    config = kwargs.get("config")
    system = field(config, "system_instruction")
    if system is not None:
        inv.set_content(gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS, [p for msg in contents(system) for p in msg["parts"]])
    inv.set_content(gen_ai.GEN_AI_INPUT_MESSAGES, contents(kwargs.get("contents")))
    tools = field(config, "tools")
    if tools:
        inv.set_content(gen_ai.GEN_AI_TOOL_DEFINITIONS, [d for tool in tools for d in tool_definitions(tool)])


def contents(value: Any) -> list[m.Message]:
    """`contents` in any form the SDK takes: a string, a part, a content, or a list mixing them (consecutive
    loose strings and parts form one user message, as the SDK sends them)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[m.Message] = []
    loose: list[m.Part] = []
    for item in items:
        if isinstance(item, str) or (field(item, "parts") is None and field(item, "role") is None):
            loose.append(part(item))
            continue
        if loose:
            out.append(m.message("user", loose))
            loose = []
        out.append(message(item))
    if loose:
        out.append(m.message("user", loose))
    return out


def message(content: Any, finish_reason: Any = None) -> m.Message:
    role = field(content, "role") or "user"
    return m.message("assistant" if role == "model" else role,
                     [part(p) for p in field(content, "parts") or ()], finish_reason)


def part(p: Any) -> m.Part:
    if isinstance(p, str):
        return m.text(p)
    call = field(p, "function_call")
    if call is not None:
        return m.tool_call(field(call, "id"), field(call, "name"), field(call, "args"))
    response = field(p, "function_response")
    if response is not None:
        return m.tool_call_response(field(response, "id") or field(response, "name"), field(response, "response"))
    text = field(p, "text")
    if text is not None:
        return m.reasoning(text) if field(p, "thought") else m.text(text)
    for kind in ("inline_data", "file_data", "executable_code", "code_execution_result"):
        if field(p, kind) is not None:
            return m.other(kind)
    return m.other("unknown")


def tool_definitions(tool: Any) -> list[m.Part]:
    """Function declarations; a Python function given for automatic function calling by its name and doc."""
    if callable(tool):
        return [m.function_tool(getattr(tool, "__name__", None), (getattr(tool, "__doc__", None) or "").strip())]
    declarations = field(tool, "function_declarations")
    if declarations:
        return [m.function_tool(field(d, "name"), field(d, "description"),
                                _schema(field(d, "parameters_json_schema") or field(d, "parameters")))
                for d in declarations]
    kinds = [name for name in ("google_search", "code_execution", "url_context", "retrieval")
             if field(tool, name) is not None]
    return [m.function_tool(kind, kind=kind) for kind in kinds]


def _schema(schema: Any) -> Any:
    dump = getattr(schema, "model_dump", None)
    return dump(mode="json", exclude_none=True) if dump is not None else schema


# -- responses --------------------------------------------------------------------------------------------

def finish_reason(candidate: Any) -> str | None:
    reason = getattr(candidate, "finish_reason", None)
    if reason is None:
        return None
    value = getattr(reason, "value", reason)
    return str(value).lower()


def output_finish(reason: str | None, parts: list[m.Part]) -> str | None:
    if reason is None:
        return None
    if reason == "stop" and any(p["type"] == "tool_call" for p in parts):
        return "tool_call"
    return "content_filter" if reason in _FILTERED else FINISH_REASONS.get(reason, reason)


def record_response(inv: Invocation, response: Any) -> None:
    inv.set(gen_ai.GEN_AI_RESPONSE_ID, getattr(response, "response_id", None))
    inv.set(gen_ai.GEN_AI_RESPONSE_MODEL, getattr(response, "model_version", None))
    candidates = getattr(response, "candidates", None) or ()
    reasons = [r for r in (finish_reason(c) for c in candidates) if r]
    if not candidates:
        blocked = getattr(getattr(response, "prompt_feedback", None), "block_reason", None)
        if blocked is not None:
            reasons = [str(getattr(blocked, "value", blocked)).lower()]
    inv.set(gen_ai.GEN_AI_RESPONSE_FINISH_REASONS, reasons)
    record_usage(inv, getattr(response, "usage_metadata", None))
    if inv.telemetry.capture.enabled:
        out = []
        for candidate in candidates:
            msg = message(candidate.content) if candidate.content is not None else m.message("assistant", [])
            msg["role"] = "assistant"
            finish = output_finish(finish_reason(candidate), msg["parts"])
            if finish:
                msg["finish_reason"] = finish
            out.append(msg)
        inv.set_content(gen_ai.GEN_AI_OUTPUT_MESSAGES, out)


def record_usage(inv: Invocation, usage: Any) -> None:
    if usage is None:
        return
    prompt = getattr(usage, "prompt_token_count", None)
    tool_prompt = getattr(usage, "tool_use_prompt_token_count", None)
    candidates = getattr(usage, "candidates_token_count", None)
    thoughts = getattr(usage, "thoughts_token_count", None)
    input_tokens = prompt + (tool_prompt or 0) if isinstance(prompt, int) else None
    output_tokens = None
    if isinstance(candidates, int) or isinstance(thoughts, int):
        output_tokens = (candidates or 0) + (thoughts or 0)
    inv.usage(input_tokens, output_tokens, cache_read=getattr(usage, "cached_content_token_count", None),
              reasoning=thoughts)


def accumulator(hide_usage_chunk: bool) -> ChunkAccumulator:
    return ChunkAccumulator()


class ChunkAccumulator:
    """Each chunk is a `GenerateContentResponse` carrying the latest usage (cumulative) and the next parts of
    each candidate; the finish reason arrives with a candidate's last chunk."""

    __slots__ = ("finish", "parts", "response_id", "usage", "version")

    def __init__(self) -> None:
        self.response_id: str | None = None
        self.version: str | None = None
        self.usage: Any = None
        self.finish: dict[int, str] = {}
        self.parts: dict[int, list[m.Part]] = {}

    def observe(self, inv: Invocation, chunk: Any) -> bool:
        self.response_id = self.response_id or getattr(chunk, "response_id", None)
        self.version = self.version or getattr(chunk, "model_version", None)
        usage = getattr(chunk, "usage_metadata", None)
        if usage is not None:
            self.usage = usage
        capture = inv.telemetry.capture.enabled
        for position, candidate in enumerate(getattr(chunk, "candidates", None) or ()):
            index = candidate.index if candidate.index is not None else position
            reason = finish_reason(candidate)
            if reason:
                self.finish[index] = reason
            if capture and candidate.content is not None:
                parts = self.parts.setdefault(index, [])
                for p in candidate.content.parts or ():
                    new = part(p)
                    last = parts[-1] if parts else None
                    if last is not None and new["type"] in ("text", "reasoning") and last["type"] == new["type"]:
                        last["content"] += new["content"]  # the deltas of one text make one part
                    else:
                        parts.append(new)
        return True

    def finish_stream(self, inv: Invocation) -> None:
        inv.set(gen_ai.GEN_AI_RESPONSE_ID, self.response_id)
        inv.set(gen_ai.GEN_AI_RESPONSE_MODEL, self.version)
        inv.set(gen_ai.GEN_AI_RESPONSE_FINISH_REASONS, [self.finish[i] for i in sorted(self.finish)])
        record_usage(inv, self.usage)
        if inv.telemetry.capture.enabled:
            out = []
            for index in sorted(set(self.parts) | set(self.finish)):
                parts = self.parts.get(index, [])
                out.append(m.message("assistant", parts, output_finish(self.finish.get(index), parts)))
            inv.set_content(gen_ai.GEN_AI_OUTPUT_MESSAGES, out)

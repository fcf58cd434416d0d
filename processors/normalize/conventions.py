"""What other conventions call things, and their current GenAI semantic-conventions names.

Each mapping reads a span's attributes (`attrs`, a plain dict) and writes into `out` what the span should
have under current names, adding the keys it used to `used`. Current names already on the span always win.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.attributes import server_attributes, session_attributes, user_attributes

from llmtap import semconv
from llmtap.collector.attributes import as_float
from llmtap.processors.normalize import messages
from llmtap.processors.normalize.values import (
    dumps,
    loads,
    ms_to_s,
    operation_name,
    provider_name,
    string_list,
    text,
    to_int,
)

Convert = Callable[[Any], Any]
Mapping = Callable[[dict[str, Any], dict[str, Any], set[str]], None]

_ident: Convert = lambda v: v  # noqa: E731

RENAMES: dict[str, tuple[str, Convert]] = {
    # Older GenAI semantic conventions
    gen_ai.GEN_AI_SYSTEM: (gen_ai.GEN_AI_PROVIDER_NAME, provider_name),
    gen_ai.GEN_AI_USAGE_PROMPT_TOKENS: (gen_ai.GEN_AI_USAGE_INPUT_TOKENS, to_int),
    gen_ai.GEN_AI_USAGE_COMPLETION_TOKENS: (gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS, to_int),
    "gen_ai.openai.request.seed": (gen_ai.GEN_AI_REQUEST_SEED, to_int),
    "gen_ai.openai.request.response_format": (gen_ai.GEN_AI_OUTPUT_TYPE, text),
    "gen_ai.openai.request.service_tier": ("openai.request.service_tier", text),
    "gen_ai.openai.response.service_tier": ("openai.response.service_tier", text),
    "gen_ai.openai.response.system_fingerprint": ("openai.response.system_fingerprint", text),
    "gen_ai.openai.system_fingerprint": ("openai.response.system_fingerprint", text),
    # The semantic-conventions-genai repository's newer names
    "gen_ai.usage.cache_write.input_tokens": (gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, to_int),
    # OpenLLMetry (Traceloop)
    "gen_ai.usage.cache_read_input_tokens": (gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, to_int),
    "gen_ai.usage.cache_creation_input_tokens": (gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, to_int),
    "gen_ai.usage.reasoning_tokens": (gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, to_int),
    "llm.request.type": (gen_ai.GEN_AI_OPERATION_NAME, operation_name),
    "gen_ai.user": (user_attributes.USER_ID, text),
    "llm.user": (user_attributes.USER_ID, text),
    "llm.top_k": (gen_ai.GEN_AI_REQUEST_TOP_K, as_float),
    "llm.frequency_penalty": (gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY, as_float),
    "llm.presence_penalty": (gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY, as_float),
    # OpenLIT
    "gen_ai.request.user": (user_attributes.USER_ID, text),
    "gen_ai.request.service_tier": ("openai.request.service_tier", text),
    "gen_ai.response.service_tier": ("openai.response.service_tier", text),
    "gen_ai.response.system_fingerprint": ("openai.response.system_fingerprint", text),
    "gen_ai.usage.cost": (semconv.LLMTAP_COST_CLIENT_USD, as_float),
    # OpenInference (Phoenix)
    "llm.system": (gen_ai.GEN_AI_PROVIDER_NAME, provider_name),
    "llm.provider": (gen_ai.GEN_AI_PROVIDER_NAME, provider_name),
    "llm.model_name": (gen_ai.GEN_AI_RESPONSE_MODEL, text),
    "embedding.model_name": (gen_ai.GEN_AI_REQUEST_MODEL, text),
    "llm.token_count.prompt": (gen_ai.GEN_AI_USAGE_INPUT_TOKENS, to_int),
    "llm.token_count.completion": (gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS, to_int),
    "llm.token_count.prompt_details.cache_read": (gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, to_int),
    "llm.token_count.prompt_details.cache_write": (gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, to_int),
    "llm.token_count.completion_details.reasoning": (gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, to_int),
    "llm.finish_reason": (gen_ai.GEN_AI_RESPONSE_FINISH_REASONS, string_list),
}
"""One attribute to another, on any span or log record."""

DUPLICATES = frozenset({"gen_ai.usage.total_tokens", "llm.usage.total_tokens", "llm.token_count.total",
                        "gen_ai.client.token.usage"})
"""Totals other conventions add that the current ones leave to the reader (input plus output)."""

_VERCEL_RENAMES: dict[str, tuple[str, Convert]] = {
    "ai.model.id": (gen_ai.GEN_AI_REQUEST_MODEL, text),
    "ai.model.provider": (gen_ai.GEN_AI_PROVIDER_NAME, provider_name),
    "ai.response.model": (gen_ai.GEN_AI_RESPONSE_MODEL, text),
    "ai.response.id": (gen_ai.GEN_AI_RESPONSE_ID, text),
    "ai.response.finishReason": (gen_ai.GEN_AI_RESPONSE_FINISH_REASONS, string_list),
    "ai.response.msToFirstChunk": (gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, ms_to_s),
    "ai.usage.promptTokens": (gen_ai.GEN_AI_USAGE_INPUT_TOKENS, to_int),
    "ai.usage.inputTokens": (gen_ai.GEN_AI_USAGE_INPUT_TOKENS, to_int),
    "ai.usage.completionTokens": (gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS, to_int),
    "ai.usage.outputTokens": (gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS, to_int),
    "ai.usage.cachedInputTokens": (gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, to_int),
    "ai.usage.reasoningTokens": (gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, to_int),
    "ai.settings.maxOutputTokens": (gen_ai.GEN_AI_REQUEST_MAX_TOKENS, to_int),
    "ai.settings.maxTokens": (gen_ai.GEN_AI_REQUEST_MAX_TOKENS, to_int),
    "ai.settings.temperature": (gen_ai.GEN_AI_REQUEST_TEMPERATURE, as_float),
    "ai.settings.topP": (gen_ai.GEN_AI_REQUEST_TOP_P, as_float),
    "ai.settings.topK": (gen_ai.GEN_AI_REQUEST_TOP_K, as_float),
    "ai.settings.seed": (gen_ai.GEN_AI_REQUEST_SEED, to_int),
    "ai.settings.frequencyPenalty": (gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY, as_float),
    "ai.settings.presencePenalty": (gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY, as_float),
    "ai.settings.stopSequences": (gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES, string_list),
    "ai.telemetry.metadata.userId": (user_attributes.USER_ID, text),
    "ai.telemetry.metadata.sessionId": (session_attributes.SESSION_ID, text),
}
_VERCEL_CALLS = {"ai.generateText.doGenerate": "chat", "ai.streamText.doStream": "chat",
                 "ai.generateObject.doGenerate": "chat", "ai.streamObject.doStream": "chat",
                 "ai.embed.doEmbed": "embeddings", "ai.embedMany.doEmbed": "embeddings"}
"""The Vercel AI SDK's spans that are one provider call each; its outer spans (`ai.generateText`) repeat their
usage and are left alone, so that nothing is counted twice."""

_INVOCATION = {"model": (gen_ai.GEN_AI_REQUEST_MODEL, text),
               "temperature": (gen_ai.GEN_AI_REQUEST_TEMPERATURE, as_float),
               "top_p": (gen_ai.GEN_AI_REQUEST_TOP_P, as_float), "top_k": (gen_ai.GEN_AI_REQUEST_TOP_K, as_float),
               "max_tokens": (gen_ai.GEN_AI_REQUEST_MAX_TOKENS, to_int),
               "max_completion_tokens": (gen_ai.GEN_AI_REQUEST_MAX_TOKENS, to_int),
               "seed": (gen_ai.GEN_AI_REQUEST_SEED, to_int), "n": (gen_ai.GEN_AI_REQUEST_CHOICE_COUNT, to_int),
               "frequency_penalty": (gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY, as_float),
               "presence_penalty": (gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY, as_float),
               "stop": (gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES, string_list), "user": (user_attributes.USER_ID, text)}
"""OpenInference's `llm.invocation_parameters` (the request's JSON) and what each key is now."""

PREFIXES = ("gen_ai.prompt", "gen_ai.completion", "llm.", "ai.", "openinference.", "embedding.")
EXACT = frozenset({*RENAMES, *DUPLICATES, "gen_ai.openai.api_base", "gen_ai.server.time_to_first_token"})
"""(`event.name` is not among them: on its own it is the current Events API's, and stays.)"""
"""A span with none of these keys (and no known event) is in the current shape already: the fast path."""

EVENTS = frozenset({"gen_ai.content.prompt", "gen_ai.content.completion"})


def _set(out: dict[str, Any], attrs: dict[str, Any], key: str, value: Any) -> bool:
    if value is None or value == [] or key in attrs or key in out:
        return False
    out[key] = value
    return True


def _rename(table: dict[str, tuple[str, Convert]], attrs: dict[str, Any], out: dict[str, Any],
            used: set[str]) -> None:
    for key, (target, convert) in table.items():
        if key in attrs:
            _set(out, attrs, target, convert(attrs[key]))
            used.add(key)


def renames(attrs: dict[str, Any], out: dict[str, Any], used: set[str]) -> None:
    _rename(RENAMES, attrs, out, used)
    used.update(k for k in DUPLICATES if k in attrs)
    streaming = any(attrs.get(k) is True for k in ("gen_ai.request.stream", "gen_ai.request.is_stream",
                                                   "gen_ai.is_streaming", "llm.is_streaming"))
    ttft = attrs.get("gen_ai.server.time_to_first_token")  # OpenLIT sets it on calls that did not stream too
    if streaming and ttft is not None:
        _set(out, attrs, gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, as_float(ttft))
        used.add("gen_ai.server.time_to_first_token")
    base = attrs.get("gen_ai.openai.api_base")
    if isinstance(base, str) and base:
        parts = urlsplit(base)
        if parts.hostname:
            _set(out, attrs, server_attributes.SERVER_ADDRESS, parts.hostname)
            port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
            _set(out, attrs, server_attributes.SERVER_PORT, port)
        used.add("gen_ai.openai.api_base")


def indexed_messages(attrs: dict[str, Any], out: dict[str, Any], used: set[str]) -> None:
    """Flattened messages: the older conventions' and Traceloop's `gen_ai.prompt.N.*`/`gen_ai.completion.N.*`,
    OpenInference's `llm.input_messages.N.message.*`, and the tools of both."""
    finish = string_list(attrs.get(gen_ai.GEN_AI_RESPONSE_FINISH_REASONS)) or string_list(out.get(
        gen_ai.GEN_AI_RESPONSE_FINISH_REASONS))
    for prefix, target, output in (("gen_ai.prompt.", gen_ai.GEN_AI_INPUT_MESSAGES, False),
                                   ("llm.input_messages.", gen_ai.GEN_AI_INPUT_MESSAGES, False),
                                   ("gen_ai.completion.", gen_ai.GEN_AI_OUTPUT_MESSAGES, True),
                                   ("llm.output_messages.", gen_ai.GEN_AI_OUTPUT_MESSAGES, True)):
        keys = [k for k in attrs if k.startswith(prefix)]
        if not keys:
            continue
        raws = messages.unflatten(attrs, prefix)
        converted = messages.output_messages(raws, finish) if output else messages.messages(raws)
        if converted:
            _set(out, attrs, target, dumps(converted))
            if output and not finish:
                reasons = [m["finish_reason"] for m in converted if "finish_reason" in m]
                _set(out, attrs, gen_ai.GEN_AI_RESPONSE_FINISH_REASONS, reasons or None)
        used.update(keys)
    for key, target, role in (("gen_ai.prompt", gen_ai.GEN_AI_INPUT_MESSAGES, "user"),
                              ("gen_ai.completion", gen_ai.GEN_AI_OUTPUT_MESSAGES, "assistant")):
        if isinstance(attrs.get(key), str):  # the oldest form: the whole prompt or completion as one string
            converted = messages.from_text(attrs[key], role)
            if role == "assistant":
                for i, m in enumerate(converted):
                    if finish and i < len(finish):
                        m["finish_reason"] = finish[i]
            if converted:
                _set(out, attrs, target, dumps(converted))
            used.add(key)
    for prefix in ("llm.request.functions.", "llm.tools."):
        keys = [k for k in attrs if k.startswith(prefix)]
        if keys:
            _set(out, attrs, gen_ai.GEN_AI_TOOL_DEFINITIONS, dumps(messages.tool_definitions(
                messages.unflatten(attrs, prefix))) if keys else None)
            used.update(keys)


def openinference(attrs: dict[str, Any], out: dict[str, Any], used: set[str]) -> None:
    kind = attrs.get("openinference.span.kind")
    if kind not in ("LLM", "EMBEDDING"):
        return
    used.add("openinference.span.kind")
    _set(out, attrs, gen_ai.GEN_AI_OPERATION_NAME, "chat" if kind == "LLM" else "embeddings")
    invocation = loads(attrs.get("llm.invocation_parameters"))
    if isinstance(invocation, dict):
        for key, (target, convert) in _INVOCATION.items():
            if key in invocation:
                _set(out, attrs, target, convert(invocation[key]))
        used.add("llm.invocation_parameters")
    if gen_ai.GEN_AI_REQUEST_MODEL not in attrs and gen_ai.GEN_AI_REQUEST_MODEL not in out:
        _set(out, attrs, gen_ai.GEN_AI_REQUEST_MODEL, text(attrs.get("llm.model_name")))
    if gen_ai.GEN_AI_INPUT_MESSAGES in out or gen_ai.GEN_AI_INPUT_MESSAGES in attrs:
        # the raw request and response bodies repeat the messages
        used.update(k for k in ("input.value", "input.mime_type", "output.value", "output.mime_type") if k in attrs)


def vercel(attrs: dict[str, Any], out: dict[str, Any], used: set[str]) -> None:
    operation = _VERCEL_CALLS.get(str(attrs.get("ai.operationId", "")))
    if operation is None:
        return
    _set(out, attrs, gen_ai.GEN_AI_OPERATION_NAME, operation)
    _rename(_VERCEL_RENAMES, attrs, out, used)
    prompt = loads(attrs.get("ai.prompt.messages"))
    if isinstance(prompt, list):
        _set(out, attrs, gen_ai.GEN_AI_INPUT_MESSAGES, dumps(messages.messages(prompt)))
        used.add("ai.prompt.messages")
    parts: list[dict[str, Any]] = []
    if isinstance(attrs.get("ai.response.text"), str):
        parts.append({"type": "text", "content": attrs["ai.response.text"]})
        used.add("ai.response.text")
    calls = loads(attrs.get("ai.response.toolCalls"))
    if isinstance(calls, list):
        for call in calls:
            if isinstance(call, dict):
                args = call.get("input", call.get("args"))
                parts.append({"type": "tool_call", "id": call.get("toolCallId"), "name": call.get("toolName"),
                              "arguments": loads(args) if isinstance(args, str) else args})
        used.add("ai.response.toolCalls")
    if parts:
        message: dict[str, Any] = {"role": "assistant", "parts": parts}
        reason = attrs.get("ai.response.finishReason")
        if reason:
            message["finish_reason"] = reason
        _set(out, attrs, gen_ai.GEN_AI_OUTPUT_MESSAGES, dumps([message]))


def older_semconv(attrs: dict[str, Any], out: dict[str, Any], used: set[str]) -> None:
    """Spans of the conventions before `gen_ai.operation.name` existed: a chat, if they name a model."""
    named = attrs.get(gen_ai.GEN_AI_REQUEST_MODEL) or out.get(gen_ai.GEN_AI_REQUEST_MODEL)
    if gen_ai.GEN_AI_SYSTEM in attrs and gen_ai.GEN_AI_OPERATION_NAME not in attrs and named:
        _set(out, attrs, gen_ai.GEN_AI_OPERATION_NAME, "chat")


MAPPINGS: tuple[Mapping, ...] = (renames, vercel, openinference, indexed_messages, older_semconv)

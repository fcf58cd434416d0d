"""The conventions' JSON message schema (gen-ai-input-messages.json, gen-ai-output-messages.json): messages
with a role and typed parts. Each SDK module maps its own shapes onto these constructors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai

if TYPE_CHECKING:
    from llmtap.instrumentation.genai.invocation import Invocation

Part = dict[str, Any]
Message = dict[str, Any]


def text(content: Any) -> Part:
    return {"type": "text", "content": content if isinstance(content, str) else str(content)}


def reasoning(content: Any) -> Part:
    return {"type": "reasoning", "content": content if isinstance(content, str) else str(content)}


def tool_call(call_id: Any, name: Any, arguments: Any) -> Part:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": _json_value(arguments)}


def tool_call_response(call_id: Any, response: Any) -> Part:
    return {"type": "tool_call_response", "id": call_id, "response": _json_value(response)}


def other(kind: str, **fields: Any) -> Part:
    """Parts the schema has no type for (images, audio, files) keep their kind and no payload bytes."""
    return {"type": kind, **{k: v for k, v in fields.items() if v is not None}}


def message(role: Any, parts: list[Part], finish_reason: Any = None) -> Message:
    msg: Message = {"role": role or "user", "parts": parts}
    if finish_reason is not None:
        msg["finish_reason"] = finish_reason
    return msg


def function_tool(name: Any, description: Any = None, parameters: Any = None, kind: str = "function") -> Part:
    tool: Part = {"type": kind, "name": name}
    if description:
        tool["description"] = description
    if parameters is not None:
        tool["parameters"] = parameters
    return tool


def _json_value(value: Any) -> Any:
    """Tool arguments arrive as JSON text; record the object when it parses, else the text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


_OMIT_TYPES = ("Omit", "NotGiven")


def given(value: Any) -> bool:
    """The Stainless SDKs mark absent parameters with `omit`/`NOT_GIVEN` sentinels; treat them as absent."""
    return value is not None and type(value).__name__ not in _OMIT_TYPES


def record_request(inv: Invocation, kwargs: dict[str, Any], input_message: Callable[[Any], Message],
                   tool_definition: Callable[[Any], Part]) -> None:
    """The request's `messages` and `tools` (the Stainless SDKs' names), each converted by the SDK's own
    function, as input messages and tool definitions. Only called with capture on."""
    msgs: Any = kwargs.get("messages")
    if given(msgs):
        inv.set_content(gen_ai.GEN_AI_INPUT_MESSAGES, [input_message(msg) for msg in msgs])
    tools: Any = kwargs.get("tools")
    if given(tools):
        inv.set_content(gen_ai.GEN_AI_TOOL_DEFINITIONS, [tool_definition(t) for t in tools])


def get(obj: Any, key: str, default: Any = None) -> Any:
    """A field of a dict (request params) or of an SDK model (responses) alike."""
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)

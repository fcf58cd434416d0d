"""Messages of other conventions as the GenAI conventions' JSON message schema: `{"role", "parts": [...]}`,
parts of type `text`, `tool_call`, `tool_call_response` and `reasoning`; output messages with
`finish_reason`. Inputs are OpenAI-shaped messages (Traceloop's and OpenInference's flattened attributes,
unflattened first) and the Vercel AI SDK's messages."""

from __future__ import annotations

import re
from typing import Any

from llmtap.processors.normalize.values import loads


def unflatten(attrs: dict[str, Any], prefix: str) -> list[Any]:
    """`prefix.0.role`, `prefix.0.tool_calls.1.name`, ... as a list of nested dicts (numeric segments become
    list positions, in order)."""
    tree: dict[Any, Any] = {}
    for key, value in attrs.items():
        if not key.startswith(prefix):
            continue
        node = tree
        segments = [int(s) if s.isdigit() else s for s in key[len(prefix):].split(".")]
        for segment in segments[:-1]:
            child = node.get(segment)
            if not isinstance(child, dict):
                child = node[segment] = {}
            node = child
        node[segments[-1]] = value
    result = _lists(tree)
    return result if isinstance(result, list) else []


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(isinstance(k, int) for k in node):
        return [_lists(node[k]) for k in sorted(node)]
    return {k: _lists(v) for k, v in node.items()}


def _text(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


def _tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    parsed = loads(arguments) if isinstance(arguments, str) else arguments
    part: dict[str, Any] = {"type": "tool_call", "name": name}
    if call_id:
        part["id"] = call_id
    part["arguments"] = parsed if parsed is not None else arguments
    return part


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if content.startswith("[") and isinstance(parsed := loads(content), list):
            return _content_parts(parsed)
        return [_text(content)] if content else []
    parts: list[dict[str, Any]] = []
    if isinstance(content, list):
        for item in content:
            if isinstance(item, str):
                parts.append(_text(item))
                continue
            if not isinstance(item, dict):
                continue
            item = item.get("message_content", item)  # OpenInference's `contents.N.message_content`
            kind = item.get("type")
            if kind in ("text", "input_text", "output_text"):
                body = item.get("text", item.get("content"))
                if isinstance(body, str):
                    parts.append(_text(body))
            elif kind == "reasoning":
                parts.append({"type": "reasoning", "content": item.get("text", item.get("content", ""))})
            elif kind == "tool-call":  # Vercel AI SDK
                parts.append(_tool_call(item.get("toolCallId"), item.get("toolName"),
                                        item.get("input", item.get("args"))))
            elif kind == "tool-result":
                parts.append({"type": "tool_call_response", "id": item.get("toolCallId"),
                              "response": item.get("output", item.get("result"))})
    return parts


def message(raw: Any) -> dict[str, Any] | None:
    """One OpenAI-shaped (or Vercel) message as a conventions message."""
    if not isinstance(raw, dict):
        return None
    raw = raw.get("message", raw)  # OpenInference nests each under `message`
    if not isinstance(raw, dict):
        return None
    role = raw.get("role") or "user"
    content = raw.get("content")
    if role == "tool" and raw.get("tool_call_id"):
        parts = [{"type": "tool_call_response", "id": raw["tool_call_id"], "response": content}]
    else:
        parts = _content_parts(content)
        parts += _content_parts(raw.get("contents"))
    for call in raw.get("tool_calls") or []:
        if not isinstance(call, dict):
            continue
        call = call.get("tool_call", call)
        function = call.get("function") if isinstance(call.get("function"), dict) else call
        parts.append(_tool_call(call.get("id"), function.get("name"), function.get("arguments")))
    out: dict[str, Any] = {"role": role, "parts": parts}
    if raw.get("finish_reason"):
        out["finish_reason"] = raw["finish_reason"]
    return out


_ROLE_LINE = re.compile(r"^(system|developer|user|assistant|tool): ?", re.MULTILINE)


def from_text(text: str, role: str) -> list[dict[str, Any]]:
    """A prompt or completion recorded as one string. OpenLIT writes a conversation as `role: text` lines;
    `None` (a completion that was only tool calls) is no text."""
    if text in ("", "None"):
        return []
    starts = list(_ROLE_LINE.finditer(text))
    if not starts or starts[0].start() != 0:
        return [{"role": role, "parts": [_text(text)]}]
    out = []
    for match, following in zip(starts, [*starts[1:], None], strict=True):
        body = text[match.end():following.start() if following else len(text)].rstrip("\n")
        out.append({"role": match.group(1), "parts": [_text(body)]})
    return out


def messages(raws: list[Any]) -> list[dict[str, Any]]:
    return [m for m in (message(r) for r in raws) if m is not None]


def output_messages(raws: list[Any], finish_reasons: list[str] | None) -> list[dict[str, Any]]:
    """Output messages, each with a finish reason (from `finish_reasons` by position when it has none)."""
    out = messages(raws)
    for i, m in enumerate(out):
        if m.get("role") in (None, "user"):
            m["role"] = "assistant"
        if "finish_reason" not in m and finish_reasons and i < len(finish_reasons):
            m["finish_reason"] = finish_reasons[i]
    return out


def tool_definitions(raws: list[Any]) -> list[dict[str, Any]]:
    """Tool definitions (`{"type": "function", "name", "description", "parameters"}`) from OpenAI's tool
    format, OpenInference's `tool.json_schema` or Traceloop's `llm.request.functions`."""
    out = []
    for raw in raws:
        if isinstance(raw, dict) and "tool" in raw:
            raw = raw["tool"]
        if isinstance(raw, dict) and "json_schema" in raw:
            raw = loads(raw["json_schema"])
        if not isinstance(raw, dict):
            continue
        function: dict[str, Any] = raw["function"] if isinstance(raw.get("function"), dict) else raw
        definition: dict[str, Any] = {"type": raw.get("type", "function"), "name": function.get("name")}
        if function.get("description"):
            definition["description"] = function["description"]
        parameters = function.get("parameters")
        if parameters is not None:
            definition["parameters"] = loads(parameters) if isinstance(parameters, str) else parameters
        out.append(definition)
    return out

"""OpenAI's wire format: Chat Completions (plain and SSE), Responses (plain and SSE), Embeddings; the same
routes under Azure's `/openai/deployments/{name}/...` paths."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.providers.common import WORDS, failing_by_model, sse

CREATED = 1_767_225_600
"""Every object's creation time: fixed, so that two runs of one request are equal to the byte."""

USAGE = {"prompt_tokens": 31, "completion_tokens": 6, "total_tokens": 37,
         "prompt_tokens_details": {"cached_tokens": 12, "audio_tokens": 0},
         "completion_tokens_details": {"reasoning_tokens": 3, "audio_tokens": 0}}


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    kind = "invalid_request_error" if status == 400 else code
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def routes(app: web.Application) -> None:
    for prefix in ("/v1", "/openai/deployments/{deployment}"):
        app.router.add_post(f"{prefix}/chat/completions", chat)
        app.router.add_post(f"{prefix}/responses", responses)
        app.router.add_post(f"{prefix}/embeddings", embeddings)


def _tool_call(index: int | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {"id": "call_abc123", "type": "function",
                            "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}
    if index is not None:
        call["index"] = index
    return call


@failing_by_model(error_body)
async def chat(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    model = body.get("model", "")
    n = body.get("n") or 1
    served = f"{model}-2025-01-01"
    cid = "chatcmpl-test123"
    tools = model == "tools"
    if not body.get("stream"):
        choices = []
        for i in range(n):
            message: dict[str, Any] = {"role": "assistant", "content": None if tools else "".join(WORDS),
                                       "refusal": None}
            if tools:
                message["tool_calls"] = [_tool_call()]
            choices.append({"index": i, "message": message, "logprobs": None,
                            "finish_reason": "tool_calls" if tools else "stop"})
        return web.json_response({"id": cid, "object": "chat.completion", "created": CREATED,
                                  "model": served, "choices": choices, "usage": USAGE,
                                  "system_fingerprint": "fp_test", "service_tier": "default"})

    def chunk(choices: list[dict[str, Any]], usage: Any = None) -> tuple[None, dict[str, Any]]:
        data = {"id": cid, "object": "chat.completion.chunk", "created": CREATED, "model": served,
                "system_fingerprint": "fp_test", "choices": choices}
        if usage is not None or (body.get("stream_options") or {}).get("include_usage"):
            data["usage"] = usage
        return None, data

    chunks_wanted = int(request.query.get("chunks", body.get("max_tokens") or len(WORDS)))
    events = [chunk([{"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                     for i in range(n)])]
    if tools:
        events.append(chunk([{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "call_abc123", "type": "function",
             "function": {"name": "get_weather", "arguments": ""}}]}, "finish_reason": None}]))
        events.append(chunk([{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": "{\"city\": \"Paris\"}"}}]}, "finish_reason": None}]))
    else:
        for k in range(chunks_wanted):
            for i in range(n):
                events.append(chunk([{"index": i, "delta": {"content": WORDS[k % len(WORDS)]},
                                      "finish_reason": None}]))
    for i in range(n):
        events.append(chunk([{"index": i, "delta": {}, "finish_reason": "tool_calls" if tools else "stop"}]))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append(chunk([], USAGE))
    return await sse(request, events, break_after=3 if model == "midstream-error" else None)


def _response_object(model: str, status: str = "completed", tools: bool = False) -> dict[str, Any]:
    output: list[dict[str, Any]]
    if tools:
        output = [{"type": "function_call", "id": "fc_1", "call_id": "call_abc123", "name": "get_weather",
                   "arguments": "{\"city\": \"Paris\"}", "status": "completed"}]
    else:
        output = [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                   "content": [{"type": "output_text", "text": "".join(WORDS), "annotations": []}]}]
    return {"id": "resp_test123", "object": "response", "created_at": CREATED, "status": status,
            "model": f"{model}-2025-01-01", "output": output, "parallel_tool_calls": True, "tool_choice": "auto",
            "tools": [], "error": None, "incomplete_details": None, "instructions": None, "metadata": {},
            "temperature": 1.0, "top_p": 1.0, "text": {"format": {"type": "text"}},
            "usage": {"input_tokens": 25, "output_tokens": 6, "total_tokens": 31,
                      "input_tokens_details": {"cached_tokens": 10},
                      "output_tokens_details": {"reasoning_tokens": 2}}}


@failing_by_model(error_body)
async def responses(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    model = body.get("model", "")
    tools = model == "tools"
    if not body.get("stream"):
        return web.json_response(_response_object(model, tools=tools))
    created = {**_response_object(model, status="in_progress"), "output": [], "usage": None}
    events: list[tuple[str | None, Any]] = [("response.created", {"type": "response.created", "sequence_number": 0,
                                                                  "response": created})]
    for i, word in enumerate(WORDS):
        events.append(("response.output_text.delta", {
            "type": "response.output_text.delta", "sequence_number": i + 1, "item_id": "msg_1",
            "output_index": 0, "content_index": 0, "delta": word, "logprobs": []}))
    events.append(("response.completed", {"type": "response.completed", "sequence_number": len(WORDS) + 1,
                                          "response": _response_object(model, tools=tools)}))
    return await sse(request, events, done=False)


@failing_by_model(error_body)
async def embeddings(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    model = body.get("model", "")
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    dims = body.get("dimensions") or 8
    data = [{"object": "embedding", "index": i, "embedding": [0.125] * dims} for i in range(len(inputs))]
    if body.get("encoding_format") == "base64":
        import base64
        import struct
        packed = base64.b64encode(struct.pack(f"<{dims}f", *([0.125] * dims))).decode()
        data = [{**d, "embedding": packed} for d in data]
    return web.json_response({"object": "list", "data": data, "model": model,
                              "usage": {"prompt_tokens": 8 * len(inputs), "total_tokens": 8 * len(inputs)}})

"""Anthropic's wire format: Messages (plain and SSE events), under `/v1/messages`.

Models: `tools` answers with a tool_use block, `thinking` with a thinking block before its text, `refusal`
stops with `refusal`; every answer reports cache read and cache creation tokens."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.providers.common import WORDS, failing_by_model, sse

USAGE = {"input_tokens": 20, "output_tokens": 6, "cache_creation_input_tokens": 5,
         "cache_read_input_tokens": 100, "service_tier": "standard"}
THINKING = "The user wants the answer."
STREAM_ERROR = ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})

_ERROR_TYPES = {429: "rate_limit_error", 500: "api_error", 401: "authentication_error", 400: "invalid_request_error"}


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message}}


def routes(app: web.Application) -> None:
    app.router.add_post("/v1/messages", messages)


def _content(model: str) -> list[dict[str, Any]]:
    if model == "tools":
        return [{"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}]
    text = {"type": "text", "text": "".join(WORDS)}
    if model == "thinking":
        return [{"type": "thinking", "thinking": THINKING, "signature": "sig"}, text]
    return [text]


def _stop_reason(model: str) -> str:
    return {"tools": "tool_use", "refusal": "refusal"}.get(model, "end_turn")


def _usage(model: str) -> dict[str, Any]:
    return {**USAGE, "output_tokens_details": {"thinking_tokens": 4}} if model == "thinking" else USAGE


@failing_by_model(error_body)
async def messages(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    model = body.get("model", "")
    message = {"id": "msg_test123", "type": "message", "role": "assistant", "model": f"{model}-20250101",
               "content": _content(model), "stop_reason": _stop_reason(model), "stop_sequence": None,
               "usage": _usage(model)}
    if not body.get("stream"):
        return web.json_response(message)
    start = {**message, "content": [], "stop_reason": None,
             "usage": {**USAGE, "output_tokens": 1}}
    events: list[tuple[str | None, Any]] = [("message_start", {"type": "message_start", "message": start}),
                                            ("ping", {"type": "ping"})]
    for index, block in enumerate(_content(model)):
        kind = block["type"]
        empty = {"text": {"type": "text", "text": ""}, "tool_use": {**block, "input": {}},
                 "thinking": {"type": "thinking", "thinking": "", "signature": ""}}[kind]
        events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                               "content_block": empty}))
        if kind == "text":
            pieces = WORDS if block["text"] == "".join(WORDS) else [block["text"]]
            if "chunks" in request.query:  # a longer stream, for the benchmarks
                pieces = [WORDS[k % len(WORDS)] for k in range(int(request.query["chunks"]))]
            deltas = [{"type": "text_delta", "text": piece} for piece in pieces]
        elif kind == "thinking":
            deltas = [{"type": "thinking_delta", "thinking": THINKING},
                      {"type": "signature_delta", "signature": "sig"}]
        else:
            deltas = [{"type": "input_json_delta", "partial_json": '{"city": '},
                      {"type": "input_json_delta", "partial_json": '"Paris"}'}]
        for delta in deltas:
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    final = _usage(model)
    events.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": _stop_reason(model), "stop_sequence": None},
                                     "usage": {"output_tokens": final["output_tokens"],
                                               **({"output_tokens_details": final["output_tokens_details"]}
                                                  if "output_tokens_details" in final else {})}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return await sse(request, events, done=False, break_after=4 if model == "midstream-error" else None,
                     error=STREAM_ERROR)

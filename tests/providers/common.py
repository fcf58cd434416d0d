"""Behaviour shared by the provider APIs: errors by model name, SSE writing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

WORDS = ["The", " answer", " is", " forty", "-two", "."]


async def maybe_fail(model: str, error_body: Any) -> web.Response | None:
    """The error a `fail-*` model asks for, in the provider's error shape (`error_body(status, type, msg)`)."""
    if model == "slow":
        await asyncio.sleep(2)
    failures = {
        "fail-429": (429, "rate_limit_exceeded", "Rate limit reached for requests", {"retry-after": "0"}),
        "fail-500": (500, "server_error", "The server had an error while processing your request", {}),
        "fail-401": (401, "invalid_api_key", "Incorrect API key provided", {}),
        "fail-context": (400, "context_length_exceeded",
                         "This model's maximum context length is 128000 tokens", {}),
        "fail-filter": (400, "content_filter", "The response was filtered due to the content management policy",
                        {}),
    }
    if model in failures:
        status, code, message, headers = failures[model]
        return web.json_response(error_body(status, code, message), status=status, headers=headers)
    return None


Handler = Callable[[web.Request, dict[str, Any]], Awaitable[web.StreamResponse]]


def body_model(request: web.Request, body: dict[str, Any]) -> str:
    return str(body.get("model", ""))


def failing_by_model(error_body: Any, model_of: Callable[[web.Request, dict[str, Any]], str] = body_model,
                     ) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """A route that parses the JSON body and answers a `fail-*`/`slow` model before the handler sees it; the
    model is the body's `model` unless `model_of` finds it elsewhere (Gemini has it in the path)."""
    def decorate(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            body = await request.json()
            failed = await maybe_fail(model_of(request, body), error_body)
            return failed if failed is not None else await handler(request, body)
        return handle
    return decorate


OPENAI_STREAM_ERROR = (None, {"error": {"message": "upstream broke", "type": "server_error"}})


async def sse(request: web.Request, events: Sequence[tuple[str | None, Any]], done: bool = True,
              break_after: int | None = None,
              error: tuple[str | None, Any] = OPENAI_STREAM_ERROR) -> web.StreamResponse:
    """Write `(event name, data)` pairs as Server-Sent Events; `break_after` sends `error` in their place
    from that index on and ends the stream, as an upstream failing mid-answer does."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    for i, (event, data) in enumerate(events):
        broken = i == break_after
        if broken:
            event, data = error
        prefix = f"event: {event}\n" if event else ""
        await response.write(f"{prefix}data: {json.dumps(data)}\n\n".encode())
        if broken:
            return response
    if done:
        await response.write(b"data: [DONE]\n\n")
    return response

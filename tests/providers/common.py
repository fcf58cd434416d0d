"""Behaviour shared by the provider APIs: errors by model name, SSE writing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
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


async def sse(request: web.Request, events: Sequence[tuple[str | None, Any]], done: bool = True,
              break_after: int | None = None) -> web.StreamResponse:
    """Write `(event name, data)` pairs as Server-Sent Events; `break_after` drops the connection midway."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    for i, (event, data) in enumerate(events):
        if break_after is not None and i == break_after:
            await response.write(b'data: {"error": {"message": "upstream broke", "type": "server_error"}}\n\n')
            return response
        prefix = f"event: {event}\n" if event else ""
        await response.write(f"{prefix}data: {json.dumps(data)}\n\n".encode())
    if done:
        await response.write(b"data: [DONE]\n\n")
    return response

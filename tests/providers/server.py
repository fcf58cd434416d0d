"""`ProviderServer`: an aiohttp app on a loopback port, run in a background thread.

The model name steers behaviour, so a test says what it wants through the SDK's own arguments:
`fail-429` (rate limited, with `retry-after`), `fail-500`, `fail-401`, `fail-context` (context length),
`fail-filter` (content filter), `slow` (answers after 2 s, for client timeouts), `tools` (answers with a
tool call), `midstream-error` (a stream that breaks after two chunks). Every request body is kept in
`requests` for assertions on what the SDK actually sent.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from aiohttp import web

from tests.providers import anthropic_api, gemini_api, openai_api


class ProviderServer:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ProviderServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.middlewares.append(self._record)
        openai_api.routes(app)
        anthropic_api.routes(app)
        gemini_api.routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = {}
        self.requests.append((request.path, parsed))
        return await handler(request)  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

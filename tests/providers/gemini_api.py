"""The Gemini API's wire format: `models/{model}:generateContent`, `:streamGenerateContent?alt=sse`,
`:embedContent` and `:batchEmbedContents` under `/v1` and `/v1beta`.

The model is in the path, not the body. Models: `tools` answers with a function call, `thinking` with a
thought part before its text, `blocked` with a prompt blocked for safety; `fail-*` and `midstream-error` as
for the other APIs."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.providers.common import WORDS, failing_by_model, sse

THINKING = "The user wants the answer."
STREAM_ERROR = (None, {"error": {"code": 500, "message": "upstream broke", "status": "INTERNAL"}})
_STATUSES = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 401: "UNAUTHENTICATED", 400: "INVALID_ARGUMENT"}


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": _STATUSES.get(status, "UNKNOWN")}}


def routes(app: web.Application) -> None:
    for version in ("v1", "v1beta"):
        app.router.add_post(f"/{version}/models/{{call:[^/]+}}", models)


def _usage(model: str, candidates: int) -> dict[str, Any]:
    thoughts = 4 if model == "thinking" else 0
    usage = {"promptTokenCount": 30, "candidatesTokenCount": candidates, "cachedContentTokenCount": 10,
             "totalTokenCount": 30 + candidates + thoughts}
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return usage


def _parts(model: str) -> list[dict[str, Any]]:
    if model == "tools":
        return [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]
    text = {"text": "".join(WORDS)}
    return [{"text": THINKING, "thought": True}, text] if model == "thinking" else [text]


def _response(model: str, parts: list[dict[str, Any]], finish: str | None, candidates: int) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": _usage(model, candidates),
            "modelVersion": f"{model}-001", "responseId": "gemini-resp-1"}


def path_model(request: web.Request, body: dict[str, Any]) -> str:
    return request.match_info["call"].partition(":")[0]


@failing_by_model(error_body, path_model)
async def models(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    model, _, method = request.match_info["call"].partition(":")
    if method in ("embedContent", "batchEmbedContents"):
        dims = (body.get("requests") or [body])[0].get("outputDimensionality") or 8
        count = len(body.get("requests") or [body])
        return web.json_response({"embeddings": [{"values": [0.25] * dims} for _ in range(count)],
                                  "usageMetadata": {"promptTokenCount": 4 * count, "totalTokenCount": 4 * count}})
    if model == "blocked":
        return web.json_response({"promptFeedback": {"blockReason": "SAFETY"}, "modelVersion": f"{model}-001",
                                  "usageMetadata": {"promptTokenCount": 30, "totalTokenCount": 30}})
    if method == "generateContent":
        return web.json_response(_response(model, _parts(model), "STOP", len(WORDS)))
    if method != "streamGenerateContent":
        raise web.HTTPNotFound()
    events: list[tuple[str | None, Any]] = []
    if model == "thinking":
        events.append((None, _response(model, [{"text": THINKING, "thought": True}], None, 0)))
    if model == "tools":
        events.append((None, _response(model, _parts(model), "STOP", len(WORDS))))
    else:
        for i, word in enumerate(WORDS):
            last = i == len(WORDS) - 1
            events.append((None, _response(model, [{"text": word}], "STOP" if last else None, i + 1)))
    return await sse(request, events, done=False, break_after=3 if model == "midstream-error" else None,
                     error=STREAM_ERROR)

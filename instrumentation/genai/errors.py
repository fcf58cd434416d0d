"""`error.type` values a dashboard can group by, from any SDK's exceptions.

The SDKs share a shape (a `status_code`, a `body` or `code` with the provider's error code), so one
classifier serves them all; unknown exceptions fall back to their class name, as the conventions allow.
"""

from __future__ import annotations

RATE_LIMIT = "rate_limit"
TIMEOUT = "timeout"
AUTHENTICATION = "authentication"
CONTENT_FILTER = "content_filter"
CONTEXT_LENGTH = "context_length_exceeded"
SERVER_ERROR = "server_error"
CONNECTION = "connection"
BAD_REQUEST = "bad_request"
NOT_FOUND = "not_found"

_CONTEXT_MARKERS = ("context_length", "context length", "maximum context", "too many tokens", "prompt is too long",
                    "input is too long", "exceeds the maximum number of tokens")
_FILTER_MARKERS = ("content_filter", "content_policy", "content management policy", "safety", "blocked")


def classify(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        code = getattr(exc, "code", None)
        status = code if isinstance(code, int) else None
    name = type(exc).__name__
    lowered = name.lower()
    if status == 429 or "ratelimit" in lowered or "resourceexhausted" in lowered:
        return RATE_LIMIT
    if "timeout" in lowered or (status in (408, 504) and "timeout" in str(exc).lower()):
        return TIMEOUT
    if status in (401, 403) or "authentication" in lowered or "permissiondenied" in lowered:
        return AUTHENTICATION
    if isinstance(status, int) and status >= 500:
        return SERVER_ERROR
    if "connection" in lowered:
        return CONNECTION
    if isinstance(status, int) and 400 <= status < 500:
        detail = _detail(exc)
        if any(m in detail for m in _CONTEXT_MARKERS):
            return CONTEXT_LENGTH
        if any(m in detail for m in _FILTER_MARKERS):
            return CONTENT_FILTER
        if status == 404:
            return NOT_FOUND
        return BAD_REQUEST
    return f"{type(exc).__module__}.{type(exc).__qualname__}" if type(exc).__module__ != "builtins" else name


def _detail(exc: BaseException) -> str:
    parts = [str(exc)]
    for attr in ("code", "type", "body"):
        value = getattr(exc, attr, None)
        if value is not None:
            parts.append(str(value))
    return " ".join(parts).lower()

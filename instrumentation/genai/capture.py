"""Whether message content is recorded, and where: `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`."""

from __future__ import annotations

import enum
import os

ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


class ContentCapture(enum.Enum):
    NO_CONTENT = "NO_CONTENT"
    SPAN_ONLY = "SPAN_ONLY"
    EVENT_ONLY = "EVENT_ONLY"
    SPAN_AND_EVENT = "SPAN_AND_EVENT"

    @property
    def on_span(self) -> bool:
        return self in (ContentCapture.SPAN_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def on_event(self) -> bool:
        return self in (ContentCapture.EVENT_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def enabled(self) -> bool:
        return self is not ContentCapture.NO_CONTENT


def content_capture(value: str | None = None) -> ContentCapture:
    """Off unless asked for. `true` means on the span (where llmtap's previews and redaction look first);
    the newer mode names choose explicitly; anything unrecognised keeps content off."""
    raw = (os.environ.get(ENV, "") if value is None else value).strip()
    if raw.lower() == "true":
        return ContentCapture.SPAN_ONLY
    try:
        return ContentCapture(raw.upper())
    except ValueError:
        return ContentCapture.NO_CONTENT

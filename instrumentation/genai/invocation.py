"""One GenAI call: its CLIENT span, its metric points and, when enabled, its content.

An instrumentor creates an `Invocation` before calling the SDK, fills in what it learns from the request
and the response, and ends it exactly once: on success, on error, or when a stream finishes, is closed,
or is collected unfinished. Every method swallows its own errors (logged once), so telemetry can never
change what the application sees.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import error_attributes, server_attributes
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from llmtap.instrumentation.genai import attribution, errors
from llmtap.instrumentation.genai.telemetry import Telemetry

log = logging.getLogger("llmtap.instrumentation")
_reported: set[str] = set()

EVENT_NAME = "gen_ai.client.inference.operation.details"
_CONTENT_KEYS = (gen_ai.GEN_AI_INPUT_MESSAGES, gen_ai.GEN_AI_OUTPUT_MESSAGES, gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS,
                 gen_ai.GEN_AI_TOOL_DEFINITIONS)
# Attributes that go on the metric points too (the conventions' metric attributes).
_METRIC_KEYS = (gen_ai.GEN_AI_OPERATION_NAME, gen_ai.GEN_AI_PROVIDER_NAME, gen_ai.GEN_AI_REQUEST_MODEL,
                gen_ai.GEN_AI_RESPONSE_MODEL, server_attributes.SERVER_ADDRESS, server_attributes.SERVER_PORT)


def report(where: str, exc: BaseException) -> None:
    """Log an internal error once per place; never raise."""
    if where not in _reported:
        _reported.add(where)
        log.warning("llmtap instrumentation error in %s (further ones are not logged): %r", where, exc)


class Invocation:
    __slots__ = ("_token", "attributes", "content", "ended", "first_chunk_ns", "learned", "span", "start_ns",
                 "telemetry")

    def __init__(self, telemetry: Telemetry, operation: str, provider: str, model: str | None,
                 attributes: Mapping[str, AttributeValue], server: tuple[str | None, int | None] = (None, None)):
        self.telemetry = telemetry
        self.ended = False
        self.first_chunk_ns = 0
        self.content: dict[str, str] = {}
        attrs: dict[str, AttributeValue] = {gen_ai.GEN_AI_OPERATION_NAME: operation,
                                            gen_ai.GEN_AI_PROVIDER_NAME: provider}
        if model:
            attrs[gen_ai.GEN_AI_REQUEST_MODEL] = model
        host, port = server
        if host:
            attrs[server_attributes.SERVER_ADDRESS] = host
            if port:
                attrs[server_attributes.SERVER_PORT] = port
        attrs.update(attributes)
        attrs.update(attribution.current())
        self.attributes = attrs
        """Everything known about the call (for the metric points and the event)."""
        self.learned: dict[str, AttributeValue] = {}
        """What was learned after the span started: the only attributes set on it at the end."""
        name = f"{operation} {model}" if model else operation
        self.start_ns = time.perf_counter_ns()
        self.span = telemetry.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attrs)
        self._token: object | None = otel_context.attach(trace.set_span_in_context(self.span))

    def detach(self) -> None:
        """Leave the span's context (after the SDK call returned; a stream may still be running)."""
        if self._token is not None:
            try:
                otel_context.detach(self._token)  # type: ignore[arg-type]
            except Exception as exc:
                report("detach", exc)
            self._token = None

    def set(self, key: str, value: AttributeValue | None) -> None:
        if value is not None and value != "" and value != []:
            self.attributes[key] = self.learned[key] = value

    def set_content(self, key: str, value: Any) -> None:
        """Record message content (already in the conventions' JSON shape) if capture is on."""
        if self.telemetry.capture.enabled and value:
            self.content[key] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                                                default=str)

    def usage(self, input_tokens: int | None, output_tokens: int | None, cache_read: int | None = None,
              cache_creation: int | None = None, reasoning: int | None = None) -> None:
        """Token counts as the provider reports them; absent ones (None) are left out."""
        self.set(gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, cache_read)
        self.set(gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, cache_creation)
        self.set(gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, reasoning)
        self.set(gen_ai.GEN_AI_USAGE_INPUT_TOKENS, input_tokens)
        self.set(gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS, output_tokens)

    def fail(self, exc: BaseException) -> None:
        if self.ended:
            return
        try:
            error_type = errors.classify(exc)
            self.set(error_attributes.ERROR_TYPE, error_type)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:1024]))
        except Exception as err:
            report("fail", err)
        self.end()

    def end(self) -> None:
        """End the span and record the metric points; only the first call counts."""
        if self.ended:
            return
        self.ended = True
        self.detach()
        try:
            end_ns = time.perf_counter_ns()
            attrs = self.attributes
            t = self.telemetry
            ttfc = (self.first_chunk_ns - self.start_ns) / 1e9 if self.first_chunk_ns else None
            self.set(gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, ttfc)
            capture = t.capture
            if self.content and capture.on_span:
                self.learned.update(self.content)
            self.span.set_attributes(self.learned)
            metric_attrs = {k: attrs[k] for k in _METRIC_KEYS if k in attrs}
            if error_attributes.ERROR_TYPE in attrs:
                metric_attrs[error_attributes.ERROR_TYPE] = attrs[error_attributes.ERROR_TYPE]
            t.duration.record((end_ns - self.start_ns) / 1e9, metric_attrs)
            if ttfc is not None:
                t.time_to_first_chunk.record(ttfc, metric_attrs)
            for key, token_type in ((gen_ai.GEN_AI_USAGE_INPUT_TOKENS, "input"),
                                    (gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS, "output")):
                count = attrs.get(key)
                if isinstance(count, int):
                    t.token_usage.record(count, {**metric_attrs, gen_ai.GEN_AI_TOKEN_TYPE: token_type})
            if self.content and capture.on_event:
                event_attrs = {k: v for k, v in attrs.items() if k not in _CONTENT_KEYS}
                event_attrs.update(self.content)
                t.logger.emit(event_name=EVENT_NAME, attributes=event_attrs,
                              context=trace.set_span_in_context(self.span))
        except Exception as exc:
            report("end", exc)
        finally:
            self.span.end()

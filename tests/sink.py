"""`Sink`: in-memory span, metric and log exporters for the instrumentation tests, read back by name, and
`instrumented()`, which points an instrumentor at a fresh one for the length of a block."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llmtap.instrumentation.genai.instrumentor import SDKInstrumentor


def attrs_of(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


class Sink:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.metrics = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metrics])
        self.logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))

    def finished(self) -> tuple[ReadableSpan, ...]:
        return self.spans.get_finished_spans()

    def only_span(self) -> ReadableSpan:
        spans = self.finished()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        out: list[Any] = []
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        out.extend(metric.data.data_points)
        return out

    def providers(self) -> dict[str, Any]:
        """The `instrument()` keyword arguments that send to this sink."""
        return {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider,
                "logger_provider": self.logger_provider}


@contextlib.contextmanager
def instrumented(instrumentor: SDKInstrumentor, **options: Any) -> Iterator[Sink]:
    """A fresh sink receiving what `instrumentor` emits inside the block; the SDK is uninstrumented after it."""
    sink = Sink()
    instrumentor.instrument(**sink.providers(), **options)
    try:
        yield sink
    finally:
        instrumentor.uninstrument()

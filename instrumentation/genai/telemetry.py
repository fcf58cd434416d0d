"""The tracer, meters and event logger one instrumentor emits with, created once per `instrument()` call."""

from __future__ import annotations

from typing import Any

from opentelemetry import _logs, metrics, trace
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics

from llmtap import __version__
from llmtap.instrumentation.genai.capture import ContentCapture, content_capture

SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"

# The conventions' advisory bucket boundaries (gen-ai-metrics.md).
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)


class Telemetry:
    def __init__(self, scope: str, tracer_provider: Any = None, meter_provider: Any = None,
                 logger_provider: Any = None, capture: ContentCapture | None = None):
        self.tracer = trace.get_tracer(scope, __version__, tracer_provider, schema_url=SCHEMA_URL)
        meter = metrics.get_meter(scope, __version__, meter_provider, schema_url=SCHEMA_URL)
        self.duration = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION, unit="s", description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS))
        self.token_usage = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE, unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=list(TOKEN_BUCKETS))
        self.time_to_first_chunk = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK, unit="s",
            description="Time to receive the first chunk of a streamed response.",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS))
        self.logger = _logs.get_logger(scope, __version__, logger_provider, schema_url=SCHEMA_URL)
        self.capture = content_capture() if capture is None else capture

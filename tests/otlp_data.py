"""Builders of realistic OTLP requests for tests and benchmarks."""

from __future__ import annotations

import json
import os
import random
import time

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue

MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"]


def kv(key: str, value: str | int | float | bool | list[str]) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    if isinstance(value, list):
        return KeyValue(key=key, value=AnyValue(array_value=ArrayValue(values=[AnyValue(string_value=v)
                                                                                 for v in value])))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def genai_spans(n: int, content_bytes: int = 0, service: str = "bench-app", seed: int | None = None,
                ) -> ExportTraceServiceRequest:
    """`n` GenAI CLIENT spans with about 30 attributes each, optionally with message content."""
    rng = random.Random(seed)
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend([
        kv("service.name", service), kv("service.version", "1.4.2"), kv("deployment.environment", "prod"),
        kv("telemetry.sdk.name", "opentelemetry"), kv("telemetry.sdk.language", "python"),
        kv("telemetry.sdk.version", "1.38.0"), kv("host.name", "worker-7"),
    ])
    ss = rs.scope_spans.add()
    ss.scope.name = "llmtap.instrumentation.openai"
    ss.scope.version = "0.1.0"
    now = time.time_ns()
    for i in range(n):
        model = MODELS[i % len(MODELS)]
        start = now - rng.randint(0, 60_000) * 1_000_000
        span = ss.spans.add(trace_id=os.urandom(16), span_id=os.urandom(8), parent_span_id=os.urandom(8),
                            name=f"chat {model}", kind=3, start_time_unix_nano=start,
                            end_time_unix_nano=start + rng.randint(200, 9000) * 1_000_000)
        attrs = [
            kv("gen_ai.operation.name", "chat"), kv("gen_ai.provider.name", "openai"),
            kv("gen_ai.request.model", model), kv("gen_ai.response.model", f"{model}-2024-08-06"),
            kv("gen_ai.request.temperature", 0.7), kv("gen_ai.request.top_p", 1.0),
            kv("gen_ai.request.max_tokens", 1024), kv("gen_ai.request.seed", 42),
            kv("gen_ai.request.frequency_penalty", 0.0), kv("gen_ai.request.presence_penalty", 0.0),
            kv("gen_ai.request.choice.count", 1), kv("gen_ai.output.type", "text"),
            kv("gen_ai.response.id", f"chatcmpl-{i:08d}"), kv("gen_ai.response.finish_reasons", ["stop"]),
            kv("gen_ai.usage.input_tokens", rng.randint(10, 4000)),
            kv("gen_ai.usage.output_tokens", rng.randint(5, 900)),
            kv("gen_ai.usage.cache_read.input_tokens", 0), kv("gen_ai.usage.reasoning.output_tokens", 0),
            kv("gen_ai.request.stream", True), kv("gen_ai.response.time_to_first_chunk", 0.25),
            kv("server.address", "api.openai.com"), kv("server.port", 443),
            kv("user.id", f"user-{rng.randint(1, 500)}"), kv("session.id", f"s-{rng.randint(1, 5000)}"),
            kv("llmtap.tenant.id", "acme"), kv("openai.response.service_tier", "default"),
            kv("openai.response.system_fingerprint", "fp_abc123"), kv("http.response.status_code", 200),
            kv("gen_ai.conversation.id", f"conv-{i % 97}"), kv("code.function.name", "answer_ticket"),
        ]
        if content_bytes:
            text = ("The customer reports that the invoice total is wrong after the upgrade. " * 40)
            half = content_bytes // 2
            attrs.append(kv("gen_ai.input.messages", json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": text[:half]}]}])))
            attrs.append(kv("gen_ai.output.messages", json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": text[:half]}],
                  "finish_reason": "stop"}])))
        span.attributes.extend(attrs)
    return req


def log_records(n: int, service: str = "bench-app") -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(kv("service.name", service))
    sl = rl.scope_logs.add()
    now = time.time_ns()
    for i in range(n):
        rec = sl.log_records.add(time_unix_nano=now, severity_number=9, severity_text="INFO",
                                 body=AnyValue(string_value=f"log line {i}"), trace_id=os.urandom(16),
                                 span_id=os.urandom(8))
        rec.attributes.append(kv("i", i))
    return req

"""`llmtap demo`: realistic GenAI telemetry sent over OTLP, so a newcomer sees data at once.

It uses the OpenTelemetry SDK and its OTLP exporter, exactly as an instrumented application would.
"""

from __future__ import annotations

import json
import random
import time

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.trace import SpanKind, Status, StatusCode

from llmtap import semconv

MODELS = [
    ("openai", "gpt-4o", "gpt-4o-2024-08-06", 0.9),
    ("openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18", 0.5),
    ("anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929", 1.2),
    ("gcp.gemini", "gemini-2.5-flash", "gemini-2.5-flash", 0.6),
]
SERVICES = ["support-bot", "search-api", "summarizer"]
PROMPTS = ["Summarize this ticket for the on-call engineer.", "Translate the release notes to German.",
           "Which invoices are overdue?", "Write a SQL query counting active users per day.",
           # PII, so the redact processor has something to find: placeholders and llmtap.pii.* in the store
           "Send the overdue invoice to jane.doe@example.com and call +44 20 7946 0958 if she does not answer."]
ERRORS = ["rate_limit", "timeout", "server_error"]


def run(endpoint: str, calls: int, protocol: str = "http", seed: int | None = None) -> int:
    """Send `calls` GenAI spans spread over the last hour; returns the number sent."""
    rng = random.Random(seed)
    providers: list[TracerProvider] = []
    tracers = {}
    for service in SERVICES:
        provider = TracerProvider(resource=Resource.create({"service.name": service, "deployment.environment": "demo"}))
        provider.add_span_processor(BatchSpanProcessor(_exporter(endpoint, protocol), max_export_batch_size=512))
        providers.append(provider)
        tracers[service] = provider.get_tracer("llmtap.demo")
    now = time.time_ns()
    for i in range(calls):
        service = rng.choice(SERVICES)
        provider_name, model, response_model, speed = rng.choice(MODELS)
        start = now - rng.randint(0, 3000) * 10**9  # the last 50 minutes: inside `llmtap stats`' default hour
        input_tokens = rng.randint(50, 4000)
        output_tokens = rng.randint(10, 800)
        duration = speed * (0.3 + output_tokens / 120) * rng.uniform(0.7, 1.5)
        stream = rng.random() < 0.5
        failed = rng.random() < 0.04
        attributes: dict[str, str | int | float | bool | list[str]] = {
            gen_ai.GEN_AI_OPERATION_NAME: "chat",
            gen_ai.GEN_AI_PROVIDER_NAME: provider_name,
            gen_ai.GEN_AI_REQUEST_MODEL: model,
            gen_ai.GEN_AI_REQUEST_TEMPERATURE: round(rng.uniform(0, 1), 2),
            gen_ai.GEN_AI_REQUEST_MAX_TOKENS: 1024,
            "server.address": {"openai": "api.openai.com", "anthropic": "api.anthropic.com"}.get(
                provider_name, "generativelanguage.googleapis.com"),
            "user.id": f"user-{rng.randint(1, 40)}",
            semconv.LLMTAP_TENANT_ID: rng.choice(["acme", "globex", "initech"]),
            "session.id": f"session-{rng.randint(1, 200)}",
        }
        if not failed:
            cache_read = rng.choice([0, 0, input_tokens // 2])
            attributes.update({
                gen_ai.GEN_AI_RESPONSE_MODEL: response_model,
                gen_ai.GEN_AI_RESPONSE_ID: f"resp-{i}",
                gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"] if rng.random() < 0.9 else ["length"],
                gen_ai.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
                gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
                gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: cache_read,
            })
            if stream:
                attributes[gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = round(duration * rng.uniform(0.05, 0.2), 4)
            attributes[gen_ai.GEN_AI_INPUT_MESSAGES] = json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": rng.choice(PROMPTS)}]}])
        span = tracers[service].start_span(f"chat {model}", kind=SpanKind.CLIENT, start_time=start,
                                           attributes=attributes)
        if failed:
            error = rng.choice(ERRORS)
            span.set_attribute("error.type", error)
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=start + int(duration * 1e9))
    for provider in providers:
        provider.force_flush()
        provider.shutdown()
    return calls


def _exporter(endpoint: str, protocol: str):  # type: ignore[no-untyped-def]
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCExporter

        return GRPCExporter(endpoint=endpoint, insecure=True)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPExporter

    return HTTPExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")

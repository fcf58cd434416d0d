"""`opentelemetry-instrument` with llmtap installed: telemetry goes to the local llmtap collector.

The distro only sets defaults (`os.environ.setdefault`), so every standard `OTEL_*` variable the user sets
still wins: traces, metrics and logs over OTLP/HTTP to `http://localhost:4318`, the collector's default
OTLP/HTTP port. HTTP rather than gRPC because it starts no gRPC threads in the application and survives
`fork()` in pre-forking servers.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _OTelSDKConfigurator

DEFAULTS = {
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "otlp",
    "OTEL_LOGS_EXPORTER": "otlp",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318",
}


class LlmtapDistro(BaseDistro):  # type: ignore[misc]
    def _configure(self, **kwargs: Any) -> None:
        for name, value in DEFAULTS.items():
            os.environ.setdefault(name, value)


class LlmtapConfigurator(_OTelSDKConfigurator):
    """The SDK's own configurator (providers and exporters from the environment), under llmtap's name."""

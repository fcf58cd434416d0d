"""llmtap: OpenTelemetry-native observability for LLM applications.

The subpackages mirror the repository's top-level folders: `llmtap.instrumentation`,
`llmtap.semconv`, `llmtap.collector`, `llmtap.processors` and `llmtap.exporters`.
"""

__version__ = "0.1.0"

"""What every llmtap instrumentor shares: one `Invocation` per GenAI call (span, metrics, content), stream
observation, error classification, the content-capture setting and the attribution context.

The SDK-specific packages (`llmtap.instrumentation.openai`, ...) only translate requests and responses
into the calls below; how a span starts and ends, which metrics are recorded and how a stream is watched
is decided here, once.
"""

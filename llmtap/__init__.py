"""llmtap: OpenTelemetry-native observability for LLM applications.

The subpackages mirror the repository's top-level folders: `llmtap.instrumentation`,
`llmtap.semconv`, `llmtap.collector`, `llmtap.processors` and `llmtap.exporters`.

    with llmtap.attributes(user_id="u-42", session_id="s-7", tenant_id="acme"):
        client.chat.completions.create(...)   # the GenAI span carries user, session and tenant
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "attributes"]

if TYPE_CHECKING:
    from llmtap.instrumentation.genai.attribution import attributes


def __getattr__(name: str) -> Any:
    # Imported on first use, so `import llmtap` (and the collector) does not load the instrumentation.
    if name == "attributes":
        from llmtap.instrumentation.genai.attribution import attributes

        return attributes
    raise AttributeError(f"module 'llmtap' has no attribute {name!r}")

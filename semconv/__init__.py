"""Names llmtap adds to the OpenTelemetry GenAI semantic conventions, each under the `llmtap.` prefix.

Everything the released `opentelemetry-semantic-conventions` package defines is imported from there,
never redefined here.
"""

from typing import Final

LLMTAP_COST_USD: Final = "llmtap.cost.usd"
"""Price of one GenAI operation in US dollars, set by the collector's `cost` processor (double, USD). The
five parts below add up to it."""

LLMTAP_COST_INPUT_USD: Final = "llmtap.cost.input_usd"
"""The part of the cost for input tokens not read from or written to a cache (double, USD)."""

LLMTAP_COST_CACHE_READ_USD: Final = "llmtap.cost.cache_read_usd"
"""The part of the cost for input tokens read from the provider's prompt cache (double, USD)."""

LLMTAP_COST_CACHE_WRITE_USD: Final = "llmtap.cost.cache_write_usd"
"""The part of the cost for input tokens written to the provider's prompt cache (double, USD)."""

LLMTAP_COST_OUTPUT_USD: Final = "llmtap.cost.output_usd"
"""The part of the cost for output tokens other than reasoning (double, USD)."""

LLMTAP_COST_REASONING_USD: Final = "llmtap.cost.reasoning_usd"
"""The part of the cost for reasoning (thinking) output tokens (double, USD)."""

LLMTAP_COST_SOURCE: Final = "llmtap.cost.source"
"""Where the prices came from: `genai-prices` or `override` (a price from the collector's config) (string)."""

LLMTAP_COST_SOURCE_VERSION: Final = "llmtap.cost.source_version"
"""The `genai-prices` version, or the name of the config override that priced the call (string)."""

LLMTAP_COST_UNKNOWN_MODEL: Final = "llmtap.cost.unknown_model"
"""True when no price is known for the call's provider and model; the call then has no cost, not a zero
(boolean)."""

LLMTAP_COST_CLIENT_USD: Final = "llmtap.cost.client_usd"
"""A cost the sender put on the span itself (as `llmtap.cost.usd`, OpenLIT's `gen_ai.usage.cost`, ...),
kept apart from llmtap's own and never summed with it (double, USD)."""

LLMTAP_TENANT_ID: Final = "llmtap.tenant.id"
"""The tenant a call is billed to, set by the application through `llmtap.attributes` (string)."""

LLMTAP_PII_DETECTED: Final = "llmtap.pii.detected"
"""Set (true) by the collector's `redact` processor on a span or log record in which it found PII or secrets,
in its attributes or, for a span, its events; whatever a client sent under this name is removed (boolean)."""

LLMTAP_PII_TYPES: Final = "llmtap.pii.types"
"""The kinds the `redact` processor found, sorted, such as `["EMAIL", "PHONE"]`; set with
`llmtap.pii.detected` (string array)."""

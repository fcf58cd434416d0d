"""Names llmtap adds to the OpenTelemetry GenAI semantic conventions, each under the `llmtap.` prefix.

Everything the released `opentelemetry-semantic-conventions` package defines is imported from there,
never redefined here.
"""

from typing import Final

LLMTAP_COST_USD: Final = "llmtap.cost.usd"
"""Price of one GenAI operation in US dollars, set by the collector's `cost` processor (double, USD)."""

LLMTAP_TENANT_ID: Final = "llmtap.tenant.id"
"""The tenant a call is billed to, set by the application through `llmtap.attributes` (string)."""

LLMTAP_PII_DETECTED: Final = "llmtap.pii.detected"
"""Whether the collector's `redact` processor found and replaced PII or secrets in the item (boolean)."""

LLMTAP_PII_TYPES: Final = "llmtap.pii.types"
"""The kinds of PII the `redact` processor replaced, such as `EMAIL` (string array)."""

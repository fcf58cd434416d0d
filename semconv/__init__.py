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

LLMTAP_COST_CACHE_SAVINGS_USD: Final = "llmtap.cost.cache_savings_usd"
"""What the prompt cache saved on this call: its cache-read tokens at the input price minus what they cost at
the cache-read price. Not a part of `llmtap.cost.usd`; set only when positive (double, USD)."""

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

# ------------------------------------------------------------------------------------------------
# The `genai_metrics` connector's output: span-derived series and one `llmtap.llm_call` event per call.
# Series are delta sums and histograms, one data point per label set and received request; their labels are
# the span's `gen_ai.provider.name`, `gen_ai.operation.name`, `gen_ai.request.model`,
# `gen_ai.response.model`, `error.type`, and the capped `user.id` and `llmtap.tenant.id`; the resource
# carries `service.name`.

LLMTAP_REQUESTS: Final = "llmtap.requests"
"""GenAI operations (counter, `{request}`; Prometheus: `llmtap_requests_total`)."""

LLMTAP_TOKENS: Final = "llmtap.tokens"
"""Tokens by `gen_ai.token.type` (counter, `{token}`; Prometheus: `llmtap_tokens_total`). `input` and `output`
are the inclusive totals of the semantic conventions; `cache_read`, `cache_write` and `reasoning` are parts of
them, so never add all five."""

LLMTAP_COST: Final = "llmtap.cost.usd"
"""Cost in US dollars by `gen_ai.token.type` (counter, `{USD}`; Prometheus: `llmtap_cost_usd_total`). Here the
types are the disjoint parts of `llmtap.cost.usd` (`input` meaning uncached input, `output` meaning
non-reasoning output), so their sum is the total."""

LLMTAP_COST_CACHE_SAVINGS: Final = "llmtap.cost.cache_savings.usd"
"""What prompt caching saved, in US dollars, from `llmtap.cost.cache_savings_usd` (counter, `{USD}`;
Prometheus: `llmtap_cost_cache_savings_usd_total`)."""

LLMTAP_REQUEST_DURATION: Final = "llmtap.request.duration"
"""Duration of GenAI operations (histogram, `s`, buckets up to ten minutes; Prometheus:
`llmtap_request_duration_seconds`)."""

LLMTAP_TIME_TO_FIRST_TOKEN: Final = "llmtap.time_to_first_token"
"""Time to the first chunk of streamed GenAI operations (histogram, `s`; Prometheus:
`llmtap_time_to_first_token_seconds`)."""

LLMTAP_OTHER: Final = "other"
"""The value a capped label (`user.id`, `llmtap.tenant.id`) takes for everything outside its top N."""

LLMTAP_LLM_CALL_EVENT: Final = "llmtap.llm_call"
"""Event name of the log record the connector emits per GenAI span, before sampling: the span's GenAI
attributes, usage, cost, `llmtap.call.duration`, `otel.status_code`, `error.type`, `session.id` and the two
previews; no body (exporters that show lines render a logfmt summary). ClickHouse stores these as `llm_calls`
rows, Loki as log lines."""

LLMTAP_CALL_DURATION: Final = "llmtap.call.duration"
"""Duration of the GenAI operation (double, s) on an `llmtap.llm_call` event."""

LLMTAP_PREVIEW_INPUT: Final = "llmtap.preview.input"
"""The start of the call's input as plain text (the last user message, else the first text part), after
redaction (string, at most `preview_chars` characters)."""

LLMTAP_PREVIEW_OUTPUT: Final = "llmtap.preview.output"
"""The start of the call's first output text, after redaction (string)."""

# ------------------------------------------------------------------------------------------------
# The `sample` processor

LLMTAP_SAMPLING_PROBABILITY: Final = "llmtap.sampling.probability"
"""The probability with which the collector kept this span's trace, for re-weighting counts (1/p each);
1.0 when a deterministic tail policy (errors, latency, cost, tokens, attribute) kept it (double)."""

LLMTAP_SAMPLING_POLICY: Final = "llmtap.sampling.policy"
"""The name of the tail-sampling policy that kept the trace (string)."""

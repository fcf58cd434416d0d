"""`GenAIMetricsConnector`: every GenAI span, before sampling, becomes counts in `llmtap.*` series and one
`llmtap.llm_call` log record.

The records go out with the request that produced them (queued with its spans, everywhere or nowhere). A
span's measures (duration, time to first token, tokens, cost) are kept, under its raw label values, only once
that request is queued (so a request retried after backpressure is not counted twice), and summed per series
at the flush, or once `_FOLD_AT` spans wait: a request's spans rarely share a series (user ids vary), an
interval's do, and a sum over a column is one C loop where a running total is Python work per span. Every
`flush_interval` the series go out as delta sums and histograms covering the time since the previous flush:
one point per label set and interval, not per request. A crash loses at most the unflushed interval of the
series (the records, and so `llm_calls`, are exact); shutdown flushes. The Prometheus exporter turns deltas
into cumulative series.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import functools
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric, ResourceMetrics
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.attributes import session_attributes, user_attributes
from opentelemetry.semconv.attributes import error_attributes, service_attributes

from llmtap import semconv
from llmtap.collector import attributes, wire
from llmtap.collector.attributes import as_float, as_text
from llmtap.collector.component import Connector, Derived, Host
from llmtap.collector.signals import Batch, Signal
from llmtap.processors.cost.prices import Usage
from llmtap.processors.genai_metrics.calls import request
from llmtap.processors.genai_metrics.cardinality import TopValues
from llmtap.processors.genai_metrics.config import GenAIMetricsConfig

log = logging.getLogger("llmtap.genai_metrics")

SCOPE = "llmtap.genai_metrics"
_DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
_RESOURCE_KEYS = frozenset({service_attributes.SERVICE_NAME, "service.namespace", "deployment.environment.name"})
_ROLES = (
    gen_ai.GEN_AI_OPERATION_NAME, gen_ai.GEN_AI_PROVIDER_NAME, gen_ai.GEN_AI_REQUEST_MODEL,
    gen_ai.GEN_AI_RESPONSE_MODEL, error_attributes.ERROR_TYPE, user_attributes.USER_ID, semconv.LLMTAP_TENANT_ID,
    gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, semconv.LLMTAP_COST_INPUT_USD, semconv.LLMTAP_COST_OUTPUT_USD,
    semconv.LLMTAP_COST_CACHE_READ_USD, semconv.LLMTAP_COST_CACHE_WRITE_USD, semconv.LLMTAP_COST_REASONING_USD,
    semconv.LLMTAP_COST_CACHE_SAVINGS_USD, gen_ai.GEN_AI_USAGE_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS,
    gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, session_attributes.SESSION_ID, gen_ai.GEN_AI_CONVERSATION_ID,
    gen_ai.GEN_AI_INPUT_MESSAGES, gen_ai.GEN_AI_OUTPUT_MESSAGES,
)
"""What `wire.scan_calls` reads of each span, in the order its C side names them (`R_OPERATION` ...)."""
_COPIED = (
    gen_ai.GEN_AI_OPERATION_NAME, gen_ai.GEN_AI_PROVIDER_NAME, gen_ai.GEN_AI_REQUEST_MODEL,
    gen_ai.GEN_AI_RESPONSE_MODEL, gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, gen_ai.GEN_AI_RESPONSE_FINISH_REASONS,
    error_attributes.ERROR_TYPE, user_attributes.USER_ID, session_attributes.SESSION_ID, semconv.LLMTAP_TENANT_ID,
    semconv.LLMTAP_COST_USD, semconv.LLMTAP_COST_UNKNOWN_MODEL, semconv.LLMTAP_PII_DETECTED,
)
"""Attributes the `llmtap.llm_call` record takes from the span as they are."""
_ADDED = (semconv.LLMTAP_CALL_DURATION, "otel.status_code", semconv.LLMTAP_PREVIEW_INPUT,
          semconv.LLMTAP_PREVIEW_OUTPUT)
"""What the record adds besides token counts, `error.type` (from the span's status) and `session.id` (from
`gen_ai.conversation.id`): the duration in seconds, the status, and previews (`preview_chars`) of the last user
message and of the first output message."""
_LABEL_KEYS = (gen_ai.GEN_AI_PROVIDER_NAME, gen_ai.GEN_AI_OPERATION_NAME, gen_ai.GEN_AI_REQUEST_MODEL,
               gen_ai.GEN_AI_RESPONSE_MODEL, error_attributes.ERROR_TYPE, user_attributes.USER_ID,
               semconv.LLMTAP_TENANT_ID)
"""The series' labels, in the order of a span's raw key after its resource."""
_COST_KINDS = ("input", "output", "cache_read", "cache_write", "reasoning")
"""`gen_ai.token.type` of each cost part, in the order of a span's measures."""
_PLAIN = frozenset({float, int, type(None)})
"""Value types a column of measures sums as it is (booleans are not numbers here)."""
_FOLD_AT = 16_384
"""Pending spans summed into the series at once, flush or not: bounds the memory the measures take."""


class _Histogram:
    __slots__ = ("counts", "max", "min", "n", "sum")

    def __init__(self, size: int):
        self.counts = [0] * size
        self.n = 0
        self.sum = 0.0
        self.min = float("inf")
        self.max = float("-inf")

    def add(self, bounds: list[float], values: list[float]) -> None:
        if not values:
            return
        counts = self.counts
        for index, n in Counter(map(functools.partial(bisect.bisect_left, bounds), values)).items():
            counts[index] += n
        self.n += len(values)
        self.sum += sum(values)
        self.min = min(self.min, *values)
        self.max = max(self.max, *values)


Counts = tuple[int, int, int, int, int]
"""Token counts as `wire.usage_counts` gives them, in `Usage` order (input, output, cache read, cache write,
reasoning)."""
Measures = tuple[float, Any, Counts | None, Any, Any, Any, Any, Any, Any]
"""What a span adds to its series: duration in seconds, time to first token, token usage, the cost parts (in
`_COST_KINDS` order) and the cache savings; all but the first and third as the span's attributes hold them."""


def _numbers(values: tuple[Any, ...]) -> list[float]:
    """The numbers among attribute values (as `as_float` reads them; None where the span had none)."""
    if _PLAIN.issuperset(map(type, values)):
        return [v for v in values if v is not None]
    return [n for n in map(as_float, values) if n is not None]


@dataclass
class _Series:
    requests: int = 0
    tokens: dict[str, int] = field(default_factory=dict)
    cost: dict[str, float] = field(default_factory=dict)
    cache_savings: float = 0.0
    duration: _Histogram | None = None
    ttft: _Histogram | None = None

    def add(self, measures: list[Measures], duration_bounds: list[float], ttft_bounds: list[float]) -> None:
        """The spans' measures, summed column by column."""
        seconds, ttfts, usages, *costs, savings = zip(*measures, strict=True)
        self.requests += len(measures)
        counted = [usage for usage in usages if usage is not None]
        if counted:
            for kind, n in zip(Usage._fields, map(sum, zip(*counted, strict=True)), strict=True):
                if n:
                    self.tokens[kind] = self.tokens.get(kind, 0) + n
        for kind, parts in zip(_COST_KINDS, costs, strict=True):
            usd = sum(_numbers(parts))
            if usd:
                self.cost[kind] = self.cost.get(kind, 0.0) + usd
        self.cache_savings += sum(_numbers(savings))
        if self.duration is None:
            self.duration = _Histogram(len(duration_bounds) + 1)
        self.duration.add(duration_bounds, list(seconds))
        ttft = _numbers(ttfts)
        if ttft:
            if self.ttft is None:
                self.ttft = _Histogram(len(ttft_bounds) + 1)
            self.ttft.add(ttft_bounds, ttft)


Key = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]
"""(resource attributes, point attributes) of one series."""
RawKey = tuple[Any, ...]
"""A span's resource attributes and its label values (`_LABEL_KEYS` order): as the span holds them, but for
user and tenant, capped."""


class GenAIMetricsConnector(Connector):
    outputs = frozenset({Signal.METRICS, Signal.LOGS})

    def __init__(self, component_id: str, config: GenAIMetricsConfig,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(component_id)
        self.config = config
        self.duration_bounds = list(config.duration_buckets)
        self.ttft_bounds = list(config.ttft_buckets)
        self.users = TopValues(config.users.top, config.cardinality_window, clock) if config.users.enabled else None
        self.tenants = (TopValues(config.tenants.top, config.cardinality_window, clock)
                        if config.tenants.enabled else None)
        self._last_ns = time.time_ns()
        self._totals: dict[Key, _Series] = {}
        self._pending: dict[RawKey, list[Measures]] = {}
        self._pending_spans = 0
        self._flusher: asyncio.Task[None] | None = None
        self._cpu: Any = None

    async def start(self, host: Host) -> None:
        self._cpu = host.telemetry.processor_cpu.labels(self.id)  # the summing happens outside `derive`
        self._flusher = asyncio.create_task(self._flush_every(self.config.flush_interval))

    async def shutdown(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self._emit(self.flush())

    async def _flush_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self._emit(self.flush())
            except Exception:
                log.exception("genai_metrics: flushing the series failed")

    async def _emit(self, batch: Batch | None) -> None:
        if batch is not None and self.downstream is not None:
            await self.downstream.emit(batch)

    def flush(self) -> Batch | None:
        """The series accumulated since the previous flush, as one metrics request of deltas."""
        began = time.thread_time()
        self._fold()
        batch = None
        if self._totals:
            totals, self._totals = self._totals, {}
            now_ns = max(time.time_ns(), self._last_ns + 1)
            batch = Batch(Signal.METRICS, self._metrics(totals, self._last_ns, now_ns))
            self._last_ns = now_ns
        self._spent(began)
        return batch

    def _commit(self, groups: dict[RawKey, list[Measures]], spans: int) -> None:
        began = time.thread_time()
        pending = self._pending
        for key, measures in groups.items():
            known = pending.get(key)
            if known is None:
                pending[key] = measures
            else:
                known.extend(measures)
        self._pending_spans += spans
        if self._pending_spans >= _FOLD_AT:
            self._fold()
        self._spent(began)

    def _fold(self) -> None:
        """The pending spans' measures into the series' totals."""
        pending, self._pending, self._pending_spans = self._pending, {}, 0
        for (resource_key, *values), measures in pending.items():
            key = (resource_key, self._labels(values))
            series = self._totals.get(key)
            if series is None:
                series = self._totals[key] = _Series()
            series.add(measures, self.duration_bounds, self.ttft_bounds)

    def _spent(self, began: float) -> None:
        if self._cpu is not None:
            self._cpu.inc(time.thread_time() - began)

    def _labels(self, values: list[Any]) -> tuple[tuple[str, str], ...]:
        """A series' labels from the label values of its spans."""
        return tuple((k, v) for k, v in zip(_LABEL_KEYS, map(as_text, values), strict=True) if v)

    # -- per request ------------------------------------------------------------------------------
    def derive(self, batch: Batch) -> Derived:
        groups: dict[RawKey, list[Measures]] = {}
        records: dict[int, list[bytes]] = {}
        data = batch.data()
        resources: list[tuple[bytes, str]] = []
        resource_keys: dict[int, tuple[tuple[str, str], ...]] = {}
        users, tenants = self.users, self.tenants  # user and tenant labels are capped: the N most frequent
        for cap in (users, tenants):
            if cap is not None:
                cap.roll()
        limit = self.config.preview_chars if self.config.calls else -1
        calls = wire.scan_calls(data, _ROLES, _COPIED, _ADDED, semconv.LLMTAP_LLM_CALL_EVENT,
                                wire.LOG_RECORD_ATTRIBUTES, time.time_ns(), limit, as_text)
        for index, provider, operation, request_model, response_model, error_type, user, tenant, measures, call \
                in calls:
            resource_key = resource_keys.get(index)
            if resource_key is None:
                if not resources:
                    resources = wire.scan_resources(data)
                resource = Resource.FromString(resources[index][0])
                res = attributes.pick(resource.attributes, _RESOURCE_KEYS)
                res.setdefault(service_attributes.SERVICE_NAME, "unknown_service")
                resource_key = resource_keys[index] = tuple(sorted((k, as_text(v)) for k, v in res.items()))
            user = "" if users is None or user is None else users.label(user if type(user) is str else as_text(user))
            tenant = ("" if tenants is None or tenant is None else
                      tenants.label(tenant if type(tenant) is str else as_text(tenant)))
            key: RawKey = (resource_key, provider, operation, request_model, response_model, error_type, user, tenant)
            try:
                group = groups.get(key)
            except TypeError:  # an array or map value: labelled by its JSON text
                key = (resource_key, *map(as_text, key[1:]))
                group = groups.get(key)
            if group is None:
                groups[key] = [measures]
            else:
                group.append(measures)
            if call is not None:
                records.setdefault(index, []).append(call)
        out = []
        if records:
            out.append(Batch(Signal.LOGS, None, request(resources, records, SCOPE), sum(map(len, records.values()))))
        return Derived(out, functools.partial(self._commit, groups, len(calls)) if groups else None)

    def _metrics(self, series: dict[Key, _Series], start_ns: int, end_ns: int) -> ExportMetricsServiceRequest:
        request = ExportMetricsServiceRequest()
        by_resource: dict[tuple[tuple[str, str], ...], dict[str, Metric]] = {}
        for (resource_key, labels), s in series.items():
            metrics = by_resource.get(resource_key)
            if metrics is None:
                metrics = by_resource[resource_key] = self._resource(request.resource_metrics.add(), resource_key)
            self._point(metrics[semconv.LLMTAP_REQUESTS].sum.data_points.add(), labels, start_ns, end_ns,
                        ).as_int = s.requests
            for kind, n in s.tokens.items():
                self._point(metrics[semconv.LLMTAP_TOKENS].sum.data_points.add(), labels, start_ns, end_ns,
                            ("gen_ai.token.type", kind)).as_int = n
            for kind, usd in s.cost.items():
                self._point(metrics[semconv.LLMTAP_COST].sum.data_points.add(), labels, start_ns, end_ns,
                            ("gen_ai.token.type", kind)).as_double = usd
            if s.cache_savings:
                self._point(metrics[semconv.LLMTAP_COST_CACHE_SAVINGS].sum.data_points.add(), labels, start_ns,
                            end_ns).as_double = s.cache_savings
            for name, hist, bounds in ((semconv.LLMTAP_REQUEST_DURATION, s.duration, self.duration_bounds),
                                       (semconv.LLMTAP_TIME_TO_FIRST_TOKEN, s.ttft, self.ttft_bounds)):
                if hist is None:
                    continue
                point = self._point(metrics[name].histogram.data_points.add(), labels, start_ns, end_ns)
                point.count = hist.n
                point.sum = hist.sum
                point.min = hist.min
                point.max = hist.max
                point.bucket_counts.extend(hist.counts)
                point.explicit_bounds.extend(bounds)
        for rm in request.resource_metrics:
            metrics_list = rm.scope_metrics[0].metrics
            for i in reversed(range(len(metrics_list))):
                metric = metrics_list[i]
                if not getattr(metric, metric.WhichOneof("data") or "sum").data_points:
                    del metrics_list[i]
        return request

    @staticmethod
    def _resource(rm: ResourceMetrics, resource_key: tuple[tuple[str, str], ...]) -> dict[str, Metric]:
        for k, v in resource_key:
            attributes.put(rm.resource.attributes, k, v)
        sm = rm.scope_metrics.add()
        sm.scope.name = SCOPE
        metrics: dict[str, Metric] = {}
        for name, unit, description in (
            (semconv.LLMTAP_REQUESTS, "{request}", "GenAI operations"),
            (semconv.LLMTAP_TOKENS, "{token}", "Tokens by gen_ai.token.type (input and output are inclusive)"),
            (semconv.LLMTAP_COST, "{USD}", "Cost in US dollars by part"),
            (semconv.LLMTAP_COST_CACHE_SAVINGS, "{USD}", "What prompt caching saved, in US dollars"),
        ):
            m = sm.metrics.add(name=name, unit=unit, description=description)
            m.sum.aggregation_temporality = _DELTA
            m.sum.is_monotonic = True
            metrics[name] = m
        for name, description in ((semconv.LLMTAP_REQUEST_DURATION, "Duration of GenAI operations"),
                                  (semconv.LLMTAP_TIME_TO_FIRST_TOKEN, "Time to the first chunk of a stream")):
            m = sm.metrics.add(name=name, unit="s", description=description)
            m.histogram.aggregation_temporality = _DELTA
            metrics[name] = m
        return metrics

    @staticmethod
    def _point(point: Any, labels: tuple[tuple[str, str], ...], start_ns: int, end_ns: int,
               *extra: tuple[str, str]) -> Any:
        point.start_time_unix_nano = start_ns
        point.time_unix_nano = end_ns
        for k, v in (*labels, *extra):
            kv = point.attributes.add()
            kv.key = k
            kv.value.string_value = v
        return point

"""Tail sampling: hold each trace for `decision_wait`, then keep it if a policy says so.

Spans are held by (trace id, span id), so a request retried after backpressure does not duplicate them.
Deterministic policies (errors, latency, cost, tokens, attribute) are asked first, then `probabilistic`
for the rest, then `rate_limiting`; so a probabilistic keep is a true sample of the traces nothing else kept,
and re-weighting by 1/p is exact.
"""

from __future__ import annotations

import re
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import error_attributes

from llmtap import semconv
from llmtap.collector import attributes
from llmtap.collector.attributes import as_float
from llmtap.processors.sample import threshold
from llmtap.processors.sample.config import Policy, TailConfig

Origin = tuple[bytes, bytes]
"""(serialized resource with its schema url, serialized scope with its schema url) a span came with."""


@dataclass
class HeldTrace:
    first_seen: float
    spans: dict[bytes, tuple[Origin, Span]] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)
    """Resource attributes the attribute policies look at, from every resource the spans came with."""


@dataclass(frozen=True)
class Decision:
    keep: bool
    policy: str = ""
    ratio: float | None = None
    """For a probabilistic keep: the ratio applied, combined per span with what was sampled upstream."""


_DROP = Decision(False)
_DETERMINISTIC = ("errors", "latency", "cost", "tokens", "attribute")


class _RateLimit:
    def __init__(self, spans_per_second: int, clock: Callable[[], float]):
        self.limit = spans_per_second
        self.clock = clock
        self.second = -1
        self.used = 0

    def take(self, spans: int) -> bool:
        second = int(self.clock())
        if second != self.second:
            self.second, self.used = second, 0
        if self.used + spans > self.limit:
            return False
        self.used += spans
        return True


class TailSampler:
    """The held traces, the policies and the decision cache; the processor feeds it and emits what it keeps."""

    def __init__(self, config: TailConfig, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self.clock = clock
        self.held: OrderedDict[bytes, HeldTrace] = OrderedDict()
        self.origins: dict[Origin, tuple[ResourceSpans, ScopeSpans]] = {}
        """A copy of each held span's resource and scope (without spans), while any held span needs it."""
        self.references: Counter[Origin] = Counter()
        self.decided: OrderedDict[bytes, Decision] = OrderedDict()
        order = {t: i for i, t in enumerate((*_DETERMINISTIC, "probabilistic", "rate_limiting"))}
        self.policies = sorted(config.policies, key=lambda p: order[p.type])
        self.patterns = {p.name: re.compile(p.pattern) for p in self.policies if p.pattern is not None}
        self.limits = {p.name: _RateLimit(p.spans_per_second, clock) for p in self.policies
                       if p.spans_per_second is not None}
        keys = {semconv.LLMTAP_COST_USD, gen_ai.GEN_AI_USAGE_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS,
                error_attributes.ERROR_TYPE}
        self.resource_keys = frozenset(p.key for p in self.policies if p.key)
        self.keys = frozenset(keys | self.resource_keys)

    # -- holding ----------------------------------------------------------------------------------
    def decision_for(self, trace_id: bytes) -> Decision | None:
        decision = self.decided.get(trace_id)
        if decision is not None:
            self.decided.move_to_end(trace_id)
        return decision

    def hold(self, trace_id: bytes, origin: Origin, span: Any, resource: dict[str, Any], resource_spans: Any,
             scope_spans: Any) -> None:
        trace = self.held.get(trace_id)
        if trace is None:
            trace = self.held[trace_id] = HeldTrace(self.clock())
        if resource:
            trace.resource.update(resource)
        if span.span_id in trace.spans:
            return  # the same span again: a retried request
        copy = Span()
        copy.CopyFrom(span)
        trace.spans[span.span_id] = (origin, copy)
        if origin not in self.origins:
            self.origins[origin] = (_shell(ResourceSpans, resource_spans, "scope_spans"),
                                    _shell(ScopeSpans, scope_spans, "spans"))
        self.references[origin] += 1

    def forget(self, trace: HeldTrace) -> None:
        """Release what a decided trace held of its resources and scopes."""
        for origin, _ in trace.spans.values():
            self.references[origin] -= 1
            if not self.references[origin]:
                del self.references[origin]
                del self.origins[origin]

    def due(self, everything: bool = False) -> list[tuple[bytes, HeldTrace]]:
        """Traces whose wait is over (all of them when `everything`), oldest first, removed from the hold."""
        out = []
        deadline = self.clock() - self.config.decision_wait
        while self.held:
            trace_id, trace = next(iter(self.held.items()))
            if not everything and trace.first_seen > deadline:
                break
            self.held.popitem(last=False)
            out.append((trace_id, trace))
        return out

    def over_limit(self) -> list[tuple[bytes, HeldTrace]]:
        """The oldest traces past `max_traces`, removed from the hold: decided early."""
        out = []
        while len(self.held) > self.config.max_traces:
            out.append(self.held.popitem(last=False))
        return out

    # -- deciding ---------------------------------------------------------------------------------
    def decide(self, trace_id: bytes, trace: HeldTrace) -> Decision:
        spans = [span for _, span in trace.spans.values()]
        decision = self._evaluate(trace_id, trace, spans)
        if self.config.decision_cache:
            self.decided[trace_id] = decision
            while len(self.decided) > self.config.decision_cache:
                self.decided.popitem(last=False)
        return decision

    def _evaluate(self, trace_id: bytes, trace: HeldTrace, spans: list[Span]) -> Decision:
        found = [attributes.pick(s.attributes, self.keys) for s in spans]
        for policy in self.policies:
            if policy.type in _DETERMINISTIC:
                if self._matches(policy, trace, spans, found):
                    return Decision(True, policy.name)
            elif policy.type == "probabilistic":
                assert policy.ratio is not None
                ot, _ = threshold.parse_ot(spans[0].trace_state)
                if threshold.randomness(trace_id, ot) >= threshold.threshold_for(policy.ratio):
                    return Decision(True, policy.name, policy.ratio)
            elif self.limits[policy.name].take(len(spans)):
                return Decision(True, policy.name)
        return _DROP

    def _matches(self, policy: Policy, trace: HeldTrace, spans: list[Span], found: list[dict[str, Any]]) -> bool:
        if policy.type == "errors":
            return any(s.status.code == Status.STATUS_CODE_ERROR for s in spans) or any(
                f.get(error_attributes.ERROR_TYPE) for f in found)
        if policy.type == "latency":
            assert policy.threshold is not None
            start = min(s.start_time_unix_nano for s in spans)
            end = max(s.end_time_unix_nano for s in spans)
            return (end - start) / 1e9 >= policy.threshold
        if policy.type == "cost":
            assert policy.threshold_usd is not None
            return sum(as_float(f.get(semconv.LLMTAP_COST_USD)) or 0.0 for f in found) >= policy.threshold_usd
        if policy.type == "tokens":
            assert policy.threshold_tokens is not None
            total = sum((as_float(f.get(gen_ai.GEN_AI_USAGE_INPUT_TOKENS)) or 0.0)
                        + (as_float(f.get(gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS)) or 0.0) for f in found)
            return total >= policy.threshold_tokens
        # attribute: on any span, or on the resource of any span
        assert policy.key is not None
        values = [f.get(policy.key) for f in found] + [trace.resource.get(policy.key)]
        return any(v is not None and self._value_matches(policy, v) for v in values)

    def _value_matches(self, policy: Policy, value: Any) -> bool:
        text = value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
        if text in policy.values:
            return True
        pattern = self.patterns.get(policy.name)
        return pattern is not None and pattern.fullmatch(text) is not None


def _shell(kind: Any, message: Any, repeated: str) -> Any:
    """A copy of `message` without its `repeated` children."""
    copy = kind()
    for descriptor, value in message.ListFields():
        if descriptor.name != repeated:
            if descriptor.message_type is not None:
                getattr(copy, descriptor.name).CopyFrom(value)
            else:
                setattr(copy, descriptor.name, value)
    return copy

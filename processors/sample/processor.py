"""`SampleProcessor`: head sampling per span by trace id, then (if configured) tail sampling per trace.

Kept spans carry `llmtap.sampling.probability` (and, for threshold sampling, the `ot=th:` entry of their
trace state), so that counts can be re-weighted by 1/p. Spans the head drops never reach the tail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from llmtap import semconv
from llmtap.collector import attributes
from llmtap.collector.component import BackpressureError, Host, Processor
from llmtap.collector.signals import Batch, Signal
from llmtap.collector.telemetry import SelfTelemetry
from llmtap.processors.sample import threshold
from llmtap.processors.sample.config import SampleConfig
from llmtap.processors.sample.tail import Decision, HeldTrace, Origin, TailSampler

log = logging.getLogger("llmtap.sample")


def _mark(span: Any, ratio: float | None, proportional: bool, policy: str = "") -> None:
    """Record on a kept span the probability of its keep, combined with what happened upstream."""
    ot, others = threshold.parse_ot(span.trace_state)
    upstream = threshold.incoming_threshold(ot)
    now = upstream if ratio is None else threshold.combine(upstream, ratio, proportional)
    if now != upstream:
        ot["th"] = threshold.encode(now)
        span.trace_state = threshold.format_ot(ot, others)
    attributes.put(span.attributes, semconv.LLMTAP_SAMPLING_PROBABILITY, threshold.probability_of(now))
    if policy:
        attributes.put(span.attributes, semconv.LLMTAP_SAMPLING_POLICY, policy)


class SampleProcessor(Processor):
    def __init__(self, component_id: str, config: SampleConfig):
        super().__init__(component_id)
        self.config = config
        self.head = config.head
        self.tail = TailSampler(config.tail) if config.tail is not None else None
        self.telemetry: SelfTelemetry | None = None
        self._ticker: asyncio.Task[None] | None = None

    async def start(self, host: Host) -> None:
        self.telemetry = host.telemetry
        if self.telemetry is not None:
            for decision in ("kept", "dropped"):  # at 0 from the start, as the receivers' counters
                self.telemetry.sampled.labels(self.id, decision)
        if self.tail is not None:
            self._ticker = asyncio.create_task(self._tick())

    async def shutdown(self) -> None:
        """Decide every held trace now and release the kept ones downstream."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self.tail is not None:
            await self._release(self.tail.due(everything=True), "decided")

    # -- the request path -------------------------------------------------------------------------
    async def process(self, batch: Batch) -> Batch | None:
        if self.head.ratio >= 1.0 and self.tail is None:
            return batch
        if self.tail is not None and self.downstream is not None and not self.downstream.has_room():
            raise BackpressureError("sample: the exporter queues after tail sampling are full", retry_after=2.0)
        dropped = self._head(batch) if self.head.ratio < 1.0 else 0
        if self.tail is not None:
            self._hold(batch)
            early = self.tail.over_limit()
            if early:
                await self._release(early, "evicted")
        batch.changed()
        self._count("dropped", dropped)
        return batch if batch.items else None

    def _head(self, batch: Batch) -> int:
        """Drop the spans whose trace the head ratio does not keep; returns how many."""
        ratio, mode = self.head.ratio, self.head.mode
        proportional = mode == "proportional"
        dropped = 0
        for rs in batch.message.resource_spans:  # type: ignore[union-attr]
            for ss in rs.scope_spans:
                drop = []
                for i, span in enumerate(ss.spans):
                    if mode == "traceidratio":
                        kept = threshold.trace_id_ratio_keeps(span.trace_id, ratio)
                        if kept:
                            attributes.put(span.attributes, semconv.LLMTAP_SAMPLING_PROBABILITY, ratio)
                    else:
                        ot, _ = threshold.parse_ot(span.trace_state)
                        now = threshold.combine(threshold.incoming_threshold(ot), ratio, proportional)
                        kept = threshold.randomness(span.trace_id, ot) >= now
                        if kept:
                            _mark(span, ratio, proportional)
                    if not kept:
                        drop.append(i)
                dropped += len(drop)
                _remove(ss.spans, drop)
        return dropped

    def _hold(self, batch: Batch) -> None:
        """Hold the spans of undecided traces; spans of decided ones follow their decision now."""
        assert self.tail is not None
        tail = self.tail
        late_kept = late_dropped = 0
        for rs in batch.message.resource_spans:  # type: ignore[union-attr]
            resource_key = rs.resource.SerializeToString() + rs.schema_url.encode()
            resource = attributes.pick(rs.resource.attributes, tail.resource_keys) if tail.resource_keys else {}
            for ss in rs.scope_spans:
                origin: Origin = (resource_key, ss.scope.SerializeToString() + b"\0" + ss.schema_url.encode())
                passed = []
                for i, span in enumerate(ss.spans):
                    decision = tail.decision_for(span.trace_id)
                    if decision is None:
                        tail.hold(span.trace_id, origin, span, resource, rs, ss)
                    elif decision.keep:
                        _mark(span, decision.ratio, True, decision.policy)
                        passed.append(i)
                        late_kept += 1
                    else:
                        late_dropped += 1
                if len(passed) != len(ss.spans):
                    passing = set(passed)
                    _remove(ss.spans, [i for i in range(len(ss.spans)) if i not in passing])
        self._count("kept", late_kept)
        self._count("dropped", late_dropped)
        if self.telemetry is not None and late_kept + late_dropped:
            self.telemetry.tail_traces.labels(self.id, "late").inc(late_kept + late_dropped)

    # -- deciding ---------------------------------------------------------------------------------
    async def _tick(self) -> None:
        assert self.tail is not None
        interval = min(1.0, max(self.tail.config.decision_wait / 4, 0.01))
        while True:
            await asyncio.sleep(interval)
            try:
                due = self.tail.due()
                if due:
                    await self._release(due, "decided")
            except Exception:
                log.exception("sample: deciding held traces failed")

    async def _release(self, traces: list[tuple[bytes, HeldTrace]], outcome: str) -> None:
        """Decide `traces` and send the kept spans down the rest of the pipeline as one request."""
        assert self.tail is not None
        request = ExportTraceServiceRequest()
        groups: dict[Origin, Any] = {}
        resources: dict[bytes, Any] = {}
        kept = dropped = 0
        for trace_id, trace in traces:
            decision: Decision = self.tail.decide(trace_id, trace)
            if self.telemetry is not None:
                self.telemetry.tail_traces.labels(self.id, outcome if decision.keep else "dropped").inc()
            if not decision.keep:
                dropped += len(trace.spans)
                continue
            for origin, span in trace.spans.values():
                scope_spans = groups.get(origin)
                if scope_spans is None:
                    rs_source, ss_source = self.tail.origins[origin]
                    rs = resources.get(origin[0])
                    if rs is None:
                        rs = resources[origin[0]] = request.resource_spans.add()
                        rs.CopyFrom(rs_source)
                    scope_spans = groups[origin] = rs.scope_spans.add()
                    scope_spans.CopyFrom(ss_source)
                _mark(span, decision.ratio, True, decision.policy)
                scope_spans.spans.append(span)
                kept += 1
        for _, trace in traces:
            self.tail.forget(trace)
        self._count("kept", kept)
        self._count("dropped", dropped)
        if kept and self.downstream is not None:
            await self.downstream.emit(Batch(Signal.TRACES, request))

    def _count(self, decision: str, n: int) -> None:
        if n and self.telemetry is not None:
            self.telemetry.sampled.labels(self.id, decision).inc(n)


def _remove(repeated: Any, indices: list[int]) -> None:
    """Delete the items at `indices` (ascending) from a repeated message field."""
    for i in reversed(indices):
        del repeated[i]

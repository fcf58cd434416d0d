"""Processor throughput on whole OTLP requests, against the protobuf-parse-only floor on the same requests.

The floor parses each serialised `ExportTraceServiceRequest` and serialises it again (what the collector
does for a request no processor changes is less: it keeps the received bytes). Each processor is measured
on fresh parses of the same requests, parse and serialise included, so a ratio of 0.5 means the processor
costs as much as parsing and serialising. 512-span requests of GenAI spans with ~30 attributes and 1 KB
of message content each (PII-free: for the scanner on PII-dense text see bench/redact.py). The
`normalize` runs on spans already in the current shape (its common case: one pass over the keys); the
`genai_metrics` row includes serialising the records it derives, committing its counts and, every 20
requests (10,240 spans: the collector flushes every 15 s, ~10 times as many spans at its rate),
summing them into series and flushing those; `sample/tail` holds every span, then decides and
releases them all (serialising the kept ones); `chain` is normalize -> redact -> cost -> genai_metrics ->
sample (head 0.5) on the same request, as in a pipeline, and `chain/default` the same with the default
`sample: {}` (keeps everything): the embedded default pipeline.
Run: `.venv/bin/python -m bench.processors`.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.timing import best_cpu_seconds
from llmtap.collector.component import Connector, Downstream, Processor
from llmtap.collector.signals import Batch, Signal
from llmtap.processors.cost import CostConfig, CostProcessor
from llmtap.processors.genai_metrics import GenAIMetricsConfig, GenAIMetricsConnector
from llmtap.processors.normalize import NormalizeConfig, NormalizeProcessor
from llmtap.processors.redact import RedactConfig, RedactProcessor
from llmtap.processors.sample import SampleConfig, SampleProcessor
from tests.otlp_data import genai_spans

SPANS_PER_REQUEST = 512


def spans_per_second(payloads: list[bytes], step: Callable[[bytes], None], rounds: int) -> float:
    return len(payloads) * SPANS_PER_REQUEST / best_cpu_seconds(payloads, step, rounds)


def floor(data: bytes) -> None:
    ExportTraceServiceRequest.FromString(data).SerializeToString()


def through(*processors: Processor, flush_every: int = 20) -> Callable[[bytes], None]:
    """One request through `processors`; connectors flush their series every `flush_every` requests."""
    loop = asyncio.new_event_loop()
    requests = 0

    async def run(batch: Batch) -> None:
        current: Batch | None = batch
        for processor in processors:
            assert current is not None
            if isinstance(processor, Connector):
                derived = processor.derive(current)
                for out in derived.batches:
                    out.data()
                if derived.commit is not None:
                    derived.commit()
            current = await processor.process(current)
        if current is not None:
            current.data()

    def step(data: bytes) -> None:
        nonlocal requests
        loop.run_until_complete(run(Batch(Signal.TRACES, ExportTraceServiceRequest.FromString(data), data)))
        requests += 1
        if requests % flush_every == 0:
            for processor in processors:
                if isinstance(processor, GenAIMetricsConnector) and (flushed := processor.flush()) is not None:
                    flushed.data()
    return step


def chain(sample: SampleConfig) -> Callable[[bytes], None]:
    """normalize -> redact -> cost -> genai_metrics -> sample, fresh processors, as in a pipeline."""
    return through(NormalizeProcessor("normalize", NormalizeConfig()), RedactProcessor("redact", RedactConfig()),
                   CostProcessor("cost", CostConfig()), GenAIMetricsConnector("genai_metrics", GenAIMetricsConfig()),
                   SampleProcessor("sample", sample))


def tail_sampled() -> Callable[[bytes], None]:
    """Hold every span of a request, then decide and release all its traces."""
    processor = SampleProcessor("sample", SampleConfig.model_validate(
        {"tail": {"decision_wait": 3600, "policies": [{"name": "errors", "type": "errors"},
                                                      {"name": "rest", "type": "probabilistic", "ratio": 0.5}]}}))
    loop = asyncio.new_event_loop()

    async def emit(batch: Batch) -> None:
        batch.data()

    processor.downstream = Downstream(emit=emit, has_room=lambda: True)

    def step(data: bytes) -> None:
        assert processor.tail is not None
        loop.run_until_complete(processor.process(Batch(Signal.TRACES, ExportTraceServiceRequest.FromString(data),
                                                        data)))
        loop.run_until_complete(processor._release(processor.tail.due(everything=True), "decided"))
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    payloads = [genai_spans(SPANS_PER_REQUEST, content_bytes=1024, seed=i).SerializeToString()
                for i in range(args.requests)]
    base = spans_per_second(payloads, floor, args.rounds)
    print(f"floor (parse + serialise): {base:,.0f} spans/s (CPU time, best of {args.rounds})")
    head = SampleConfig.model_validate({"head": {"ratio": 0.5}})
    rows: list[tuple[str, Callable[[bytes], None]]] = [
        ("normalize", through(NormalizeProcessor("normalize", NormalizeConfig()))),
        ("redact", through(RedactProcessor("redact", RedactConfig()))),
        ("cost", through(CostProcessor("cost", CostConfig()))),
        ("genai_metrics", through(GenAIMetricsConnector("genai_metrics", GenAIMetricsConfig()))),
        ("sample/head", through(SampleProcessor("sample", head))),
        ("sample/tail", tail_sampled()),
        ("chain", chain(head)),
        ("chain/default", chain(SampleConfig())),
    ]
    for name, step in rows:
        rate = spans_per_second(payloads, step, args.rounds)
        per_span = (1 / rate - 1 / base) * 1e6
        print(f"{name:>13}: {rate:,.0f} spans/s = {rate / base:.2f}x the floor; +{per_span:.1f} us CPU per span")


if __name__ == "__main__":
    main()

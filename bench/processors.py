"""Processor throughput on whole OTLP requests, against the protobuf-parse-only floor on the same requests.

The floor parses each serialised `ExportTraceServiceRequest` and serialises it again (what the collector
does for a request no processor changes is less: it keeps the received bytes). Each processor is measured
on fresh parses of the same requests, parse and serialise included, so a ratio of 0.5 means the processor
costs as much as parsing and serialising. 512-span requests of GenAI spans with ~30 attributes and 1 KB
of message content each (PII-free: for the scanner on PII-dense text see bench/redact.py). Only `redact` and
`cost` exist so far. Run: `.venv/bin/python -m bench.processors`.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.timing import best_cpu_seconds
from llmtap.collector.component import Processor
from llmtap.collector.signals import Batch, Signal
from llmtap.processors.cost import CostConfig, CostProcessor
from llmtap.processors.redact import RedactConfig, RedactProcessor
from tests.otlp_data import genai_spans

SPANS_PER_REQUEST = 512


def spans_per_second(payloads: list[bytes], step: Callable[[bytes], None], rounds: int) -> float:
    return len(payloads) * SPANS_PER_REQUEST / best_cpu_seconds(payloads, step, rounds)


def floor(data: bytes) -> None:
    ExportTraceServiceRequest.FromString(data).SerializeToString()


def through(processor: Processor) -> Callable[[bytes], None]:
    loop = asyncio.new_event_loop()

    def step(data: bytes) -> None:
        batch = Batch(Signal.TRACES, ExportTraceServiceRequest.FromString(data), data)
        out = loop.run_until_complete(processor.process(batch))
        assert out is not None
        out.data()
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
    for name, processor in (("redact", RedactProcessor("redact", RedactConfig())),
                            ("cost", CostProcessor("cost", CostConfig()))):
        rate = spans_per_second(payloads, through(processor), args.rounds)
        per_span = (1 / rate - 1 / base) * 1e6
        print(f"{name:>6}: {rate:,.0f} spans/s = {rate / base:.2f}x the floor; +{per_span:.1f} us CPU per span")


if __name__ == "__main__":
    main()

"""Per-call overhead of the OpenAI instrumentor over the uninstrumented SDK, in the same process.

Plain and instrumented blocks alternate (the instrumentor is installed and removed between blocks), against
the local provider server from the tests; CPU µs per call come from process time (this machine's wall
time is noisy), wall µs are shown too. Spans and metrics go to in-memory SDK providers with a no-op
exporter, as a batch processor would hand them off. Peers (openai-v2, Traceloop) need their own
virtualenvs and are not measured here yet.

Run: `.venv/bin/python -m bench.instrumentation [--calls N] [--blocks N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
from collections.abc import Callable
from typing import Any

import openai
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from llmtap.instrumentation.openai import OpenAIInstrumentor
from tests.providers.server import ProviderServer

MESSAGES: Any = [{"role": "user", "content": "What is the answer?"}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=6)
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    ports: Any = ctx.Queue()
    server_process = ctx.Process(target=_serve, args=(ports,), daemon=True)
    server_process.start()  # in its own process, so its CPU is not counted as the SDK's
    url = f"http://127.0.0.1:{ports.get(timeout=30)}"
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
    aclient = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
    streaming = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0,
                              default_query={"chunks": "100"})
    tracer_provider, meter_provider = TracerProvider(), MeterProvider(metric_readers=[InMemoryMetricReader()])

    def chat() -> None:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    def stream() -> None:
        for _ in streaming.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
            pass

    loop = asyncio.new_event_loop()

    def achat() -> None:
        loop.run_until_complete(aclient.chat.completions.create(model="gpt-4o", messages=MESSAGES))

    scenarios: list[tuple[str, Callable[[], None], int]] = [("chat", chat, args.calls),
                                                            ("stream 100 chunks", stream, args.calls // 4),
                                                            ("async chat", achat, args.calls)]
    print(f"{'scenario':<18} {'content':<8} {'plain CPU µs':>12} {'+llmtap CPU µs':>15} {'spread':>14} "
          f"{'+wall µs':>9}")
    for content in ("off", "on"):
        for name, fn, calls in scenarios:
            for _ in range(20):
                fn()
            cpu_delta, wall_delta, plain_cpu = [], [], []
            for _ in range(args.blocks):
                p_cpu, p_wall = _block(fn, calls)
                inst = OpenAIInstrumentor()
                inst.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider,
                                capture_content="SPAN_ONLY" if content == "on" else "NO_CONTENT")
                i_cpu, i_wall = _block(fn, calls)
                inst.uninstrument()
                plain_cpu.append(p_cpu)
                cpu_delta.append(i_cpu - p_cpu)
                wall_delta.append(i_wall - p_wall)
            print(f"{name:<18} {content:<8} {statistics.median(plain_cpu):>12.0f} "
                  f"{statistics.median(cpu_delta):>+15.0f} {min(cpu_delta):>+6.0f}..{max(cpu_delta):<+6.0f} "
                  f"{statistics.median(wall_delta):>+9.0f}", flush=True)
    server_process.terminate()


def _serve(ports: Any) -> None:
    server = ProviderServer().start()
    ports.put(server.port)
    while True:
        time.sleep(3600)


def _block(fn: Callable[[], None], calls: int) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.process_time() - cpu) / calls * 1e6, (time.perf_counter() - wall) / calls * 1e6


if __name__ == "__main__":
    main()

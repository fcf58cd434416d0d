"""Per-call overhead of an OpenAI instrumentor over the uninstrumented SDK, in the same process.

Plain and instrumented blocks alternate (the instrumentor is installed and removed between blocks), against
the local provider server from the tests; CPU µs per call come from process time (this machine's wall
time is noisy), wall µs are shown too. Spans, metrics and logs go to in-memory SDK providers with no
exporter, as a batch processor would hand them off.

Run under Valgrind's callgrind (`bench/peers.py --instructions` does it), the bench also reports the
instructions each block executed: a count that does not change with the machine's load, so it tells
instrumentors apart where CPU time is within the noise. Callgrind dumps its counts whenever the program
calls `getloadavg()`, which the bench does at the start and end of every block; the block's count is read
from the newest dump file right after.

`--sdk` picks the OpenAI (default) or Anthropic SDK; `--instrumentor` llmtap (default) or a peer (OpenAI:
`openai-v2`, `genai-openai`, `traceloop`; Anthropic: `genai-anthropic`, `traceloop`), which must be importable:
`bench/peers.py` runs this module in one virtualenv per peer and compares them.

Run: `.venv/bin/python -m bench.instrumentation [--sdk S] [--calls N] [--blocks N] [--instrumentor NAME] [--json]
[--scenario NAME ...]`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import openai
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from tests.providers.server import ProviderServer

MESSAGES: Any = [{"role": "user", "content": "What is the answer?"}]
CONTENT_ENV = {  # how each peer is told to capture message content
    "openai-v2": ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true", "false"),
    "genai-openai": ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY", "NO_CONTENT"),
    "genai-anthropic": ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY", "NO_CONTENT"),
    "traceloop": ("TRACELOOP_TRACE_CONTENT", "true", "false"),
}
INSTRUMENTORS = {  # (sdk, name) -> (module, class)
    ("openai", "llmtap"): ("llmtap.instrumentation.openai", "OpenAIInstrumentor"),
    ("openai", "openai-v2"): ("opentelemetry.instrumentation.openai_v2", "OpenAIInstrumentor"),
    ("openai", "genai-openai"): ("opentelemetry.instrumentation.genai.openai", "OpenAIInstrumentor"),
    ("openai", "traceloop"): ("opentelemetry.instrumentation.openai", "OpenAIInstrumentor"),
    ("anthropic", "llmtap"): ("llmtap.instrumentation.anthropic", "AnthropicInstrumentor"),
    ("anthropic", "genai-anthropic"): ("opentelemetry.instrumentation.genai.anthropic", "AnthropicInstrumentor"),
    ("anthropic", "traceloop"): ("opentelemetry.instrumentation.anthropic", "AnthropicInstrumentor"),
}


@dataclass
class Row:
    scenario: str
    content: str
    plain_cpu: float
    cpu_delta: list[float]
    wall_delta: list[float]
    restored: list[str] = field(default_factory=list)
    """SDK methods the instrumentor's `uninstrument()` left wrapped; the bench put them back."""
    plain_instructions: float | None = None
    """Instructions per plain call, under callgrind (else None)."""
    instruction_delta: list[float] = field(default_factory=list)
    """Extra instructions per instrumented call, per block pair, under callgrind."""


class Instrumented:
    """Install and remove one instrumentor, with content capture on or off."""

    def __init__(self, sdk: str, name: str, tracer_provider: TracerProvider, meter_provider: MeterProvider):
        self.name = name
        self.providers: dict[str, Any] = {"tracer_provider": tracer_provider, "meter_provider": meter_provider}
        if name != "llmtap":
            os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
        if (sdk, name) not in INSTRUMENTORS:
            raise SystemExit(f"no {name!r} instrumentor for {sdk}")
        module, cls = INSTRUMENTORS[(sdk, name)]
        self.instrumentor = getattr(importlib.import_module(module), cls)()
        self.sdk = sdk
        self.originals: dict[tuple[type, str], Any] | None = None
        self.owners: set[type] = set()
        self.restored: set[str] = set()
        """SDK methods the instrumentor's `uninstrument()` left wrapped (put back by `off()`)."""

    def _sdk_methods(self) -> dict[tuple[type, str], Any]:
        """Every attribute of every class the SDK's loaded modules define."""
        found: dict[tuple[type, str], Any] = {}
        for module_name, module in list(sys.modules.items()):
            if module is None or not (module_name == self.sdk or module_name.startswith(f"{self.sdk}.")):
                continue
            for value in list(vars(module).values()):
                if isinstance(value, type) and value.__module__ == module_name:
                    for attr, member in list(vars(value).items()):
                        found[(value, attr)] = member
        return found

    def on(self, content: bool) -> None:
        if self.originals is None:  # after the warm-up calls: every module the scenarios use is loaded
            self.originals = self._sdk_methods()
            self.owners = {owner for owner, _ in self.originals}
        if self.name == "llmtap":
            self.instrumentor.instrument(**self.providers, capture_content="SPAN_ONLY" if content else "NO_CONTENT")
            return
        variable, yes, no = CONTENT_ENV[self.name]
        os.environ[variable] = yes if content else no
        self.instrumentor.instrument(**self.providers)

    def off(self) -> None:
        """Uninstrument, then put back whatever that left wrapped, so that plain blocks are plain (and the next
        `instrument()` does not wrap a wrapper)."""
        self.instrumentor.uninstrument()
        assert self.originals is not None
        for (owner, attr), member in self._sdk_methods().items():
            original = self.originals.get((owner, attr))
            # only a wrapper left in an original's place (an SDK's own lazily set attributes stay as they are)
            if owner in self.owners and original is not None and original is not member \
                    and getattr(member, "__wrapped__", None) is not None:
                setattr(owner, attr, original)
                self.restored.add(f"{owner.__qualname__}.{attr}")


def openai_scenarios(url: str, loop: asyncio.AbstractEventLoop, calls: int) -> list[Scenario]:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
    aclient = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
    streaming = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0, default_query={"chunks": "100"})
    astreaming = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0,
                                    default_query={"chunks": "100"})

    def chat() -> None:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    def stream() -> None:
        for _ in streaming.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
            pass

    def achat() -> None:
        loop.run_until_complete(aclient.chat.completions.create(model="gpt-4o", messages=MESSAGES))

    async def _astream() -> None:
        async for _ in await astreaming.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
            pass

    def astream() -> None:
        loop.run_until_complete(_astream())

    return _scenarios(chat, stream, achat, astream, calls)


def anthropic_scenarios(url: str, loop: asyncio.AbstractEventLoop, calls: int) -> list[Scenario]:
    import anthropic

    client = anthropic.Anthropic(base_url=url, api_key="k", max_retries=0)
    aclient = anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0)
    streaming = anthropic.Anthropic(base_url=url, api_key="k", max_retries=0, default_query={"chunks": "100"})
    astreaming = anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0,
                                          default_query={"chunks": "100"})
    model = "claude-sonnet-4-5"

    def chat() -> None:
        client.messages.create(model=model, max_tokens=100, messages=MESSAGES)

    def stream() -> None:
        for _ in streaming.messages.create(model=model, max_tokens=100, messages=MESSAGES, stream=True):
            pass

    def achat() -> None:
        loop.run_until_complete(aclient.messages.create(model=model, max_tokens=100, messages=MESSAGES))

    async def _astream() -> None:
        async for _ in await astreaming.messages.create(model=model, max_tokens=100, messages=MESSAGES,
                                                        stream=True):
            pass

    def astream() -> None:
        loop.run_until_complete(_astream())

    return _scenarios(chat, stream, achat, astream, calls)


Scenario = tuple[str, Callable[[], None], int]


def _scenarios(chat: Callable[[], None], stream: Callable[[], None], achat: Callable[[], None],
               astream: Callable[[], None], calls: int) -> list[Scenario]:
    return [("chat", chat, calls), ("stream 100 chunks", stream, max(calls // 4, 1)), ("async chat", achat, calls),
            ("async stream 100", astream, max(calls // 4, 1))]


def measure(sdk: str, instrumentor: str, calls: int, blocks: int, report: Callable[[Row], None],
            only: list[str] | None = None) -> None:
    ctx = multiprocessing.get_context("spawn")
    ports: Any = ctx.Queue()
    server_process = ctx.Process(target=_serve, args=(ports,), daemon=True)
    server_process.start()  # in its own process, so its CPU is not counted as the SDK's
    url = f"http://127.0.0.1:{ports.get(timeout=30)}"
    instrumented = Instrumented(sdk, instrumentor, TracerProvider(),
                                MeterProvider(metric_readers=[InMemoryMetricReader()]))
    loop = asyncio.new_event_loop()
    scenarios = [s for s in (anthropic_scenarios if sdk == "anthropic" else openai_scenarios)(url, loop, calls)
                 if not only or s[0] in only]

    try:
        for content in (False, True):
            for name, fn, n in scenarios:
                for _ in range(20):
                    fn()
                cpu_delta, wall_delta, plain_cpu, plain_ir, ir_delta = [], [], [], [], []
                for _ in range(blocks):
                    p_cpu, p_wall, p_ir = _block(fn, n)
                    instrumented.on(content)
                    i_cpu, i_wall, i_ir = _block(fn, n)
                    instrumented.off()
                    plain_cpu.append(p_cpu)
                    cpu_delta.append(i_cpu - p_cpu)
                    wall_delta.append(i_wall - p_wall)
                    if p_ir is not None and i_ir is not None:
                        plain_ir.append(p_ir)
                        ir_delta.append(i_ir - p_ir)
                report(Row(name, "on" if content else "off", statistics.median(plain_cpu), cpu_delta, wall_delta,
                           sorted(instrumented.restored), statistics.median(plain_ir) if plain_ir else None,
                           ir_delta))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        server_process.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--sdk", default="openai", choices=["openai", "anthropic"])
    parser.add_argument("--instrumentor", default="llmtap", choices=["llmtap", *CONTENT_ENV])
    parser.add_argument("--json", action="store_true", help="one JSON object per scenario (for bench/peers.py)")
    parser.add_argument("--scenario", action="append", default=[], help="only this scenario (repeatable)")
    args = parser.parse_args()
    if not args.json:
        print(f"{'scenario':<18} {'content':<8} {'plain CPU µs':>12} {'+CPU µs':>9} {'spread':>14} {'+wall µs':>9}")

    def report(row: Row) -> None:
        if args.json:
            print(json.dumps(asdict(row)), flush=True)
            return
        print(f"{row.scenario:<18} {row.content:<8} {row.plain_cpu:>12.0f} {statistics.median(row.cpu_delta):>+9.0f} "
              f"{min(row.cpu_delta):>+6.0f}..{max(row.cpu_delta):<+6.0f} {statistics.median(row.wall_delta):>+9.0f}",
              flush=True)

    measure(args.sdk, args.instrumentor, args.calls, args.blocks, report, args.scenario)


def _serve(ports: Any) -> None:
    server = ProviderServer().start()
    ports.put(server.port)
    while True:
        time.sleep(3600)


CALLGRIND_OUT = "LLMTAP_BENCH_CALLGRIND_OUT"
"""Set by `bench/peers.py --instructions` to callgrind's `--callgrind-out-file`: the bench reads its dumps."""


def _block(fn: Callable[[], None], calls: int) -> tuple[float, float, float | None]:
    """CPU and wall µs per call, and instructions per call under callgrind (else None)."""
    gc.collect()  # each block starts from the same heap: a full collection lands in neither by chance
    gc.freeze()
    counted = os.environ.get(CALLGRIND_OUT)
    if counted:
        os.getloadavg()  # callgrind dumps what ran before the block
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        fn()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    instructions = None
    if counted:
        os.getloadavg()  # ... and the block
        instructions = _instructions(counted) / calls
    return cpu / calls * 1e6, wall / calls * 1e6, instructions


def _instructions(out_file: str) -> int:
    """The instruction count of callgrind's newest dump (`<out_file>.<n>`, n counting up from 1)."""
    base = Path(out_file)
    dumps = [p for p in base.parent.glob(f"{base.name}.*") if p.suffix[1:].isdigit()]
    newest = max(dumps, key=lambda p: int(p.suffix[1:]))
    for line in newest.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {newest}")


if __name__ == "__main__":
    main()

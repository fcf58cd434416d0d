"""Exporter throughput and the fan-out's cost, each against a baseline from the same run.

1. Per exporter: `export()` of 512-item requests (spans, log records or metric data points shaped like llmtap's
   traffic) to a local sink in another process that reads each body and answers 200 (so this process's CPU
   is the exporter's alone). Reported: items/s (wall) and CPU seconds per 100k items. The baseline is the
   same requests through the `debug` exporter at `basic` verbosity (parse and count).
2. Fan-out end to end: a collector subprocess on the embedded store, OTLP/HTTP in with 4 senders, spans
   persisted per second, with ClickHouse alone and with ClickHouse plus Tempo (OTLP/HTTP), Loki (push) and
   Prometheus (remote write) exporters pointed at the same kind of sink; the figure is the ratio.

Run: `.venv/bin/python -m bench.exporters [--requests N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llmtap.collector.component import Exporter, Host
from llmtap.collector.signals import Batch, Signal
from llmtap.collector.telemetry import SelfTelemetry
from llmtap.exporters.debug import DebugExporter, DebugExporterConfig
from llmtap.exporters.loki import LokiExporter, LokiExporterConfig
from llmtap.exporters.prometheus import PrometheusExporter, PrometheusExporterConfig
from llmtap.exporters.tempo import TempoExporter, TempoExporterConfig
from llmtap.processors.genai_metrics import GenAIMetricsConfig, GenAIMetricsConnector
from tests.conftest import free_port
from tests.otlp_data import genai_spans, log_records

SINK = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def start_sink() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SINK, str(port)])
    time.sleep(0.5)
    return proc, f"http://127.0.0.1:{port}"


def payloads(signal: Signal, count: int) -> list[bytes]:
    if signal is Signal.TRACES:
        return [genai_spans(512, content_bytes=1024, seed=i).SerializeToString() for i in range(count)]
    if signal is Signal.LOGS:
        out = []
        connector = GenAIMetricsConnector("g", GenAIMetricsConfig())
        for i in range(count):
            if i % 2:  # half application logs, half llm_call records
                out.append(log_records(512).SerializeToString())
            else:
                derived = connector.derive(Batch(Signal.TRACES, genai_spans(512, seed=i)))
                out.append(derived.batches[0].data())
        return out
    connector = GenAIMetricsConnector("g", GenAIMetricsConfig(), clock=time.monotonic)
    out = []
    for i in range(count):
        derived = connector.derive(Batch(Signal.TRACES, genai_spans(512, seed=i)))
        assert derived.commit is not None
        derived.commit()
        time.sleep(0.002)  # flushes a few ms apart, so each flush's samples are newer than the last ones
        flushed = connector.flush()
        assert flushed is not None
        out.append(flushed.data())
    return out


def measure(exporter: Exporter, signal: Signal, data: list[bytes], items: int) -> tuple[float, float]:
    """`items` counts `data[1:]`: the first request warms the exporter up (sending it twice would repeat
    Prometheus samples, which are then left out)."""
    asyncio.run(exporter.start(Host(Path(tempfile.mkdtemp()), SelfTelemetry())))
    exporter.export(signal, data[:1], "warm-up")
    cpu, wall = time.process_time(), time.perf_counter()
    for i, payload in enumerate(data[1:]):
        exporter.export(signal, [payload], f"t{i}")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    asyncio.run(exporter.shutdown())
    return items / wall, cpu / items * 1e5


def count(signal: Signal, data: list[bytes]) -> int:
    from llmtap.collector.signals import count_items

    return sum(count_items(signal, signal.request_type().FromString(d)) for d in data)


def per_exporter(requests: int, sink: str) -> None:
    print(f"{'exporter':<22} {'signal':<8} {'items/s':>10} {'CPU s/100k':>11} {'x debug CPU':>12}")
    for signal, exporters in (
        (Signal.TRACES, [("tempo (otlp/http)", TempoExporter("tempo", TempoExporterConfig(
            endpoint=sink, protocol="http")))]),
        (Signal.LOGS, [("loki (push)", LokiExporter("loki", LokiExporterConfig(endpoint=sink))),
                       ("loki (otlp)", LokiExporter("loki", LokiExporterConfig(endpoint=sink, mode="otlp")))]),
        (Signal.METRICS, [("prometheus (rw)", PrometheusExporter("prometheus", PrometheusExporterConfig(
            endpoint=f"{sink}/api/v1/write")))]),
    ):
        data = payloads(signal, requests)
        items = count(signal, data[1:])
        _, base_cpu = measure(DebugExporter("debug", DebugExporterConfig()), signal, data, items)
        print(f"{'debug (baseline)':<22} {signal.value:<8} {'':>10} {base_cpu:>11.2f} {1:>11.1f}x")
        for name, exporter in exporters:
            rate, cpu = measure(exporter, signal, data, items)
            print(f"{name:<22} {signal.value:<8} {rate:>10,.0f} {cpu:>11.2f} {cpu / base_cpu:>11.1f}x", flush=True)


def fan_out(requests: int, sink: str) -> None:
    from bench.collector import run_collector

    data = [genai_spans(512, content_bytes=1024, seed=i).SerializeToString() for i in range(requests)]
    alone = run_collector(data, "http")
    extra = (f"  tempo: {{endpoint: '{sink}', protocol: http}}\n  loki: {{endpoint: '{sink}'}}\n"
             f"  prometheus: {{endpoint: '{sink}/api/v1/write'}}\n")
    everything = run_collector(data, "http", extra_exporters=extra)
    print(f"\nfan-out, default pipeline with content, OTLP/HTTP, {requests} x 512 spans:")
    print(f"  ClickHouse alone:            {alone['persisted_per_s']:>8,.0f} spans/s persisted, "
          f"{alone['cpu_s_per_100k']:.1f} CPU s/100k")
    print(f"  + Tempo, Loki, Prometheus:   {everything['persisted_per_s']:>8,.0f} spans/s persisted, "
          f"{everything['cpu_s_per_100k']:.1f} CPU s/100k "
          f"= {everything['persisted_per_s'] / alone['persisted_per_s']:.2f}x ClickHouse alone")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    sink_proc, sink = start_sink()
    try:
        per_exporter(args.requests, sink)
        fan_out(args.requests * 2, sink)
    finally:
        sink_proc.kill()


if __name__ == "__main__":
    main()

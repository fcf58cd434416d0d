"""Collector throughput into the embedded store, against the Python floor measured in the same run.

For each transport (OTLP/HTTP, OTLP/gRPC) and payload (with and without 1 KB of message content per
span): a fresh collector subprocess on the default pipeline and a chDB store (and, with content over HTTP,
the same with no processors: the processors' share of the end-to-end time), 4 concurrent senders of
512-span requests with ~30 GenAI attributes per span. Reported: spans/s acknowledged, spans/s persisted
(rows counted in otel_traces), p99 request latency, collector CPU seconds and peak RSS per 100k spans, and
the processors' share of that CPU time (their own `llmtap_processor_cpu_seconds_total`, measured by the
collector around each processor's work, over the process's CPU time: what they cost of the end-to-end work,
whichever part is the bottleneck). A last line puts the processors-on and -off HTTP runs side by side three
ways: their own share, the extra CPU per span with them on, and the throughput given up.
The `store` row is the ceiling: the clickhouse exporter alone inserting the same requests in-process.

The floor is what a straightforward Python exporter does with the same requests in one loop: parse
the protobuf, build one Python row per span, insert the rows into otel_traces through clickhouse-connect
into chDB. Run: `make bench` (or `.venv/bin/python -m bench.collector [--requests N]`).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import psutil
import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import clickhouse_config, free_port, read_client, start_process, stop_process, wait_for
from tests.otlp_data import genai_spans

SPANS_PER_REQUEST = 512
SENDERS = 4


def _value(v: Any) -> str:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return str(v.string_value)
    if kind == "bool_value":
        return "true" if v.bool_value else "false"
    if kind in ("int_value", "double_value"):
        return str(getattr(v, kind))
    if kind == "array_value":
        return "[" + ",".join(_value(x) for x in v.array_value.values) + "]"
    return ""


def python_floor(payloads: list[bytes]) -> float:
    """Spans/s of parse + one Python row per span + chDB insert, in one loop."""
    import clickhouse_connect

    from llmtap.exporters.clickhouse import schema

    with tempfile.TemporaryDirectory() as tmp:
        client = clickhouse_connect.get_client(dsn=f"chdb://{tmp}/floor")
        client.command(schema.tables(schema.SchemaOptions())[0])
        columns = ["Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind",
                   "ServiceName", "ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes", "Duration",
                   "StatusCode", "StatusMessage"]
        kinds = ["Unspecified", "Internal", "Server", "Client", "Producer", "Consumer"]
        statuses = ["Unset", "Ok", "Error"]
        total = 0
        started = time.perf_counter()
        for data in payloads:
            request = ExportTraceServiceRequest.FromString(data)
            rows = []
            for rs in request.resource_spans:
                resource = {kv.key: _value(kv.value) for kv in rs.resource.attributes}
                service = resource.get("service.name", "")
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        rows.append([
                            s.start_time_unix_nano, s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex(),
                            s.trace_state, s.name, kinds[s.kind], service, resource, ss.scope.name,
                            ss.scope.version, {kv.key: _value(kv.value) for kv in s.attributes},
                            s.end_time_unix_nano - s.start_time_unix_nano, statuses[s.status.code],
                            s.status.message,
                        ])
            client.insert("otel_traces", rows, column_names=columns)
            total += len(rows)
        elapsed = time.perf_counter() - started
        assert client.command("SELECT count() FROM otel_traces") == total
        client.close()
    return total / elapsed


def store_ceiling(payloads: list[bytes]) -> float:
    """Spans/s of the embedded store alone: the clickhouse exporter's `export()` of the same requests in this
    process, 32 requests (16k spans) per batch, with nothing else running: about the most the collector could
    persist if receiving, processing and queueing cost nothing (much larger inserts are slower here: 100
    requests in one batch ran at half the rate)."""
    import asyncio

    from llmtap.collector.component import Host
    from llmtap.collector.signals import Signal
    from llmtap.collector.telemetry import SelfTelemetry
    from llmtap.exporters.clickhouse.exporter import ClickHouseExporter, ClickHouseExporterConfig

    per_batch = 32
    with tempfile.TemporaryDirectory() as tmp:
        # Two inserts at once: with nothing else running, the store has both cores to itself.
        exporter = ClickHouseExporter("clickhouse", ClickHouseExporterConfig(dsn=f"chdb://{tmp}/ceiling",
                                                                             read_endpoint=None,
                                                                             insert_parallelism=2))
        asyncio.run(exporter.start(Host(Path(tmp), SelfTelemetry())))
        started = time.perf_counter()
        for i in range(0, len(payloads), per_batch):
            exporter.export(Signal.TRACES, payloads[i:i + per_batch], f"ceiling-{i}")
        elapsed = time.perf_counter() - started
        client = exporter._clients.get()
        stored = int(client.command("SELECT count() FROM otel_traces"))
        exporter._clients.put(client)
        asyncio.run(exporter.shutdown())
    assert stored == len(payloads) * SPANS_PER_REQUEST
    return stored / elapsed


def default_config(tmp_path: Path, ports: dict[str, int], processors: bool = True) -> str:
    """The default pipeline and exporter settings on the given ports and paths. With no processors, the store
    inserts two batches at once (`insert_parallelism: 2`, not the embedded default 1, which is chosen for
    processors sharing the cores): the fastest store without processors, so the processors' share of the
    end-to-end time is not understated."""
    text = clickhouse_config(tmp_path, ports, batch=None, processors=processors)
    if not processors:
        text = text.replace("    ttl: 720h", "    ttl: 720h\n    insert_parallelism: 2", 1)
    return text.replace("genai_metrics: {flush_interval: 1s}", "genai_metrics: {}")  # the default


def run_collector(payloads: list[bytes], transport: str, processors: bool = True,
                  extra_exporters: str = "") -> dict[str, float]:
    """`extra_exporters` (YAML lines under `exporters:`) join ClickHouse in every pipeline that takes their
    signal: tempo traces, loki logs, prometheus metrics."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        ports = {k: free_port() for k in ("grpc", "http", "read", "telemetry")}
        config = tmp_path / "llmtap.yaml"
        text = default_config(tmp_path, ports, processors)
        if extra_exporters:
            text = text.replace("exporters:\n", f"exporters:\n{extra_exporters}", 1)
            for name, pipelines in (("tempo", ("traces",)), ("loki", ("logs", "logs/calls")),
                                    ("prometheus", ("metrics",))):
                if f"  {name}:" in extra_exporters:
                    for pipeline in pipelines:
                        start = text.index(f"    {pipeline}: {{")
                        end = text.index("exporters: [clickhouse]", start)
                        text = text[:end] + f"exporters: [clickhouse, {name}]" + text[end + 23:]
        config.write_text(text)
        proc = start_process(config, tmp_path / "collector.log", ports)
        ps = psutil.Process(proc.proc.pid)
        cpu_before = sum(ps.cpu_times()[:2])
        latencies: list[float] = []
        lock = threading.Lock()
        per_sender = [payloads[i::SENDERS] for i in range(SENDERS)]

        def send(chunk: list[bytes]) -> None:
            if transport == "http":
                session = requests.Session()
                for data in chunk:
                    while True:
                        t0 = time.perf_counter()
                        r = session.post(f"{proc.http}/v1/traces", data=data,
                                         headers={"Content-Type": "application/x-protobuf"})
                        if r.status_code == 200:
                            break
                        time.sleep(float(r.headers.get("Retry-After", "1")))
                    with lock:
                        latencies.append(time.perf_counter() - t0)
            else:
                channel = grpc.insecure_channel(proc.grpc, options=[("grpc.max_send_message_length", 64 * 2**20)])
                stub = trace_service_pb2_grpc.TraceServiceStub(channel)  # type: ignore[no-untyped-call]
                for data in chunk:
                    message = ExportTraceServiceRequest.FromString(data)
                    while True:
                        t0 = time.perf_counter()
                        try:
                            stub.Export(message, timeout=60)
                            break
                        except grpc.RpcError as err:
                            if err.code() not in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE):
                                raise
                            time.sleep(1)
                    with lock:
                        latencies.append(time.perf_counter() - t0)
                channel.close()

        total = len(payloads) * SPANS_PER_REQUEST
        started = time.perf_counter()
        threads = [threading.Thread(target=send, args=(c,)) for c in per_sender]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        acked = time.perf_counter() - started
        client = read_client(proc)
        wait_for(lambda: client.command("SELECT count() FROM otel_traces") >= total, timeout=600, interval=0.05)
        persisted = time.perf_counter() - started
        stored = int(client.command("SELECT count() FROM otel_traces"))
        cpu = sum(ps.cpu_times()[:2]) - cpu_before
        processors_cpu = _processors_cpu(proc.ports["telemetry"])
        peak_rss = _peak_rss(proc.proc.pid)
        stop_process(proc)
        assert stored == total, f"{stored} rows for {total} acknowledged spans"
        return {
            "acked_per_s": total / acked, "persisted_per_s": total / persisted,
            "p99_ms": statistics.quantiles(latencies, n=100)[98] * 1000 if len(latencies) > 1 else 0.0,
            "cpu_s_per_100k": cpu / total * 1e5, "peak_rss_mb": peak_rss / 2**20,
            "processors_cpu_share": processors_cpu / cpu,
        }


def _processors_cpu(port: int) -> float:
    """Seconds of CPU all processors and connectors took, from the collector's self-metrics."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("llmtap_processor_cpu_seconds_total{"))


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # 300 requests: the last batch of a run waits up to the exporter's 1 s flush interval for more, a quarter of
    # a 100-request run with the processors off; a longer run measures the rate rather than that wait.
    parser.add_argument("--requests", type=int, default=300, help="512-span requests per run (default 300)")
    args = parser.parse_args()
    print(f"{args.requests} requests x {SPANS_PER_REQUEST} spans, {SENDERS} senders, default pipeline, chDB store\n")
    header = f"{'payload':<13} {'transport':<9} {'acked/s':>9} {'persisted/s':>12} {'p99 ms':>8} " \
             f"{'CPU s/100k':>10} {'peak RSS MB':>11} {'floor/s':>9} {'x floor':>8} {'processors':>10}"
    print(header)
    print("-" * len(header))
    for label, content in (("with content", 1024), ("no content", 0)):
        payloads = [genai_spans(SPANS_PER_REQUEST, content_bytes=content, seed=i).SerializeToString()
                    for i in range(args.requests)]
        floor = python_floor(payloads)
        ceiling = store_ceiling(payloads)
        print(f"{label:<13} {'store':<9} {'':>9} {ceiling:>12,.0f} {'':>8} {'':>10} {'':>11} {floor:>9,.0f} "
              f"{ceiling / floor:>7.1f}x   (the store alone: its own ingest, nothing else running)", flush=True)
        runs = [("http", True), ("grpc", True)] + ([("http", False)] if content else [])
        http: dict[bool, dict[str, float]] = {}
        for transport, processors in runs:
            r = run_collector(payloads, transport, processors)
            if transport == "http":
                http[processors] = r
            name = label if processors else "  processors off"
            print(f"{name:<13} {transport:<9} {r['acked_per_s']:>9,.0f} {r['persisted_per_s']:>12,.0f} "
                  f"{r['p99_ms']:>8.0f} {r['cpu_s_per_100k']:>10.2f} {r['peak_rss_mb']:>11.0f} {floor:>9,.0f} "
                  f"{r['persisted_per_s'] / floor:>7.1f}x {r['processors_cpu_share']:>10.0%}", flush=True)
        if False in http:
            on, off = http[True], http[False]
            print(f"  processors on vs off (http): their own CPU {on['processors_cpu_share']:.0%} of the on run's; "
                  f"CPU per span (on - off) / on = {1 - off['cpu_s_per_100k'] / on['cpu_s_per_100k']:.0%}; "
                  f"persisted/s 1 - on / off = {1 - on['persisted_per_s'] / off['persisted_per_s']:.0%}",
                  flush=True)


if __name__ == "__main__":
    main()

"""Overload and crash figures for the collector on its default pipeline and embedded store.

1. Sustained rate: 4 senders as fast as the collector acknowledges, until every span is persisted; the rate
   is spans persisted per second (as in bench/collector.py).
2. Overload: for `--seconds` (60), 16 paced senders offer twice that rate, open loop, to a collector whose exporter
   queue is `--queue-mb` (64 MiB, so that it fills within the run; the default is 256 MiB): a request the
   collector answers with 429 is counted as refused and not retried (a real client would retry it later).
   Reported: spans offered, acknowledged and refused per second, p99 latency of acknowledged requests, the
   collector's RSS at the start and its peak (sampled every 0.5 s), and whether every acknowledged span was
   persisted once the load stopped.
3. SIGKILL: senders at full speed, the collector killed with SIGKILL after `--kill-after` seconds, restarted on
   the same data directory; reported: spans acknowledged before the kill, how many of them are in ClickHouse
   after the restart (and how many twice), and how long the restart took to deliver them.

Run: `.venv/bin/python -m bench.overload [--seconds 60] [--kill-after 10]`.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.collector import SENDERS, SPANS_PER_REQUEST, default_config
from tests.conftest import Process, free_port, read_client, start_process, stop_process, wait_for
from tests.otlp_data import genai_spans

PB = {"Content-Type": "application/x-protobuf"}
OVERLOAD_SENDERS = 16
"""Paced senders in the overload run: enough that slow answers do not hold the offered rate down."""


def start(tmp: Path, queue_mb: int | None = None) -> Process:
    """The default pipeline; `queue_mb` sizes the ClickHouse exporter's queue (default 256 MiB)."""
    ports = {k: free_port() for k in ("grpc", "http", "read", "telemetry")}
    config = tmp / "llmtap.yaml"
    text = default_config(tmp, ports)
    if queue_mb is not None:
        text = text.replace("    ttl: 720h", f"    ttl: 720h\n    sending_queue: {{max_bytes: {queue_mb * 2**20}}}")
    config.write_text(text)
    return start_process(config, tmp / "collector.log", ports)


def restart(previous: Process) -> Process:
    return start_process(previous.config, previous.log, previous.ports)


def stored(p: Process) -> int:
    return int(read_client(p).command("SELECT count() FROM otel_traces"))


def sustained(p: Process, payloads: list[bytes]) -> float:
    before = stored(p)
    queue = list(payloads)
    lock = threading.Lock()

    def send() -> None:
        session = requests.Session()
        while True:
            with lock:
                if not queue:
                    return
                data = queue.pop()
            while session.post(f"{p.http}/v1/traces", data=data, headers=PB).status_code != 200:
                time.sleep(0.2)

    started = time.perf_counter()
    threads = [threading.Thread(target=send) for _ in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = len(payloads) * SPANS_PER_REQUEST
    wait_for(lambda: stored(p) - before >= total, timeout=900, interval=0.1)
    return total / (time.perf_counter() - started)


def overload(p: Process, payloads: list[bytes], rate: float, seconds: float) -> dict[str, float]:
    """Offer `rate` spans/s for `seconds`, open loop."""
    before = stored(p)
    ps = psutil.Process(p.proc.pid)
    rss_start = ps.memory_info().rss
    peak = rss_start
    acked = refused = offered = 0
    latencies: list[float] = []
    lock = threading.Lock()
    interval = SPANS_PER_REQUEST * OVERLOAD_SENDERS / rate  # seconds between one sender's requests
    deadline = time.perf_counter() + seconds
    done = threading.Event()

    def send(k: int) -> None:
        nonlocal acked, refused, offered
        session = requests.Session()
        due = time.perf_counter() + k * interval / OVERLOAD_SENDERS
        i = k
        while due < deadline:
            time.sleep(max(0.0, due - time.perf_counter()))
            t0 = time.perf_counter()
            status = session.post(f"{p.http}/v1/traces", data=payloads[i % len(payloads)], headers=PB).status_code
            with lock:
                offered += 1
                if status == 200:
                    acked += 1
                    latencies.append(time.perf_counter() - t0)
                elif status in (429, 503):
                    refused += 1
                else:
                    raise AssertionError(f"unexpected status {status}")
            i += OVERLOAD_SENDERS
            due += interval

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.5):
            peak = max(peak, ps.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    threads = [threading.Thread(target=send, args=(k,)) for k in range(OVERLOAD_SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    wait_for(lambda: stored(p) - before >= acked * SPANS_PER_REQUEST, timeout=1800, interval=0.5)
    done.set()
    sampler.join()
    persisted = stored(p) - before
    return {"offered_per_s": offered * SPANS_PER_REQUEST / elapsed, "acked_per_s": acked * SPANS_PER_REQUEST / elapsed,
            "refused_share": refused / max(offered, 1), "p99_ms": statistics.quantiles(latencies, n=100)[98] * 1000
            if len(latencies) > 1 else 0.0, "rss_start_mb": rss_start / 2**20, "rss_peak_mb": peak / 2**20,
            "acked_spans": acked * SPANS_PER_REQUEST, "persisted_spans": persisted}


def sigkill(tmp: Path, payloads: list[bytes], kill_after: float) -> dict[str, float]:
    p = start(tmp)
    acked: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()
    queue = list(range(len(payloads)))

    def send() -> None:
        session = requests.Session()
        while not stop.is_set():
            with lock:
                if not queue:
                    return
                i = queue.pop(0)
            try:
                status = session.post(f"{p.http}/v1/traces", data=payloads[i], headers=PB, timeout=30).status_code
            except requests.RequestException:
                return  # the collector is gone: this request was not acknowledged
            if status == 200:
                with lock:
                    acked.append(i)
            else:
                with lock:
                    queue.insert(0, i)
                time.sleep(0.2)

    threads = [threading.Thread(target=send) for _ in range(SENDERS)]
    for t in threads:
        t.start()
    time.sleep(kill_after)
    stop_process(p, signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(30)
    expected = len(acked) * SPANS_PER_REQUEST
    started = time.perf_counter()
    second = restart(p)
    client = read_client(second)
    wait_for(lambda: client.command("SELECT count() FROM otel_traces") >= expected, timeout=900, interval=0.2)
    recovered = time.perf_counter() - started
    time.sleep(2)  # anything more (a duplicate) would land now
    rows = int(client.command("SELECT count() FROM otel_traces"))
    unique = int(client.command("SELECT uniqExact(SpanId) FROM otel_traces"))
    acked_ids: set[str] = set()
    for i in acked:
        request = ExportTraceServiceRequest.FromString(payloads[i])
        acked_ids.update(s.span_id.hex() for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans)
    stored_ids = {r[0] for r in client.query("SELECT SpanId FROM otel_traces").result_rows}
    stop_process(second)
    return {"acked_spans": expected, "missing": len(acked_ids - stored_ids), "rows": rows,
            "duplicates": rows - unique, "recovery_s": recovered}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--kill-after", type=float, default=10)
    parser.add_argument("--requests", type=int, default=40, help="distinct 512-span requests to cycle through")
    parser.add_argument("--queue-mb", type=int, default=64,
                        help="the exporter queue's size for the overload run: small enough to fill within it")
    args = parser.parse_args()
    payloads = [genai_spans(SPANS_PER_REQUEST, content_bytes=1024, seed=i).SerializeToString()
                for i in range(args.requests)]
    with tempfile.TemporaryDirectory() as tmp:
        p = start(Path(tmp), args.queue_mb)
        try:
            rate = sustained(p, payloads)
            print(f"sustained: {rate:,.0f} spans/s persisted (default pipeline, with content, OTLP/HTTP)", flush=True)
            r = overload(p, payloads, 2 * rate, args.seconds)
        finally:
            stop_process(p)
    print(f"overload at 2x for {args.seconds:.0f} s ({args.queue_mb} MiB queue): offered "
          f"{r['offered_per_s']:,.0f} spans/s, acknowledged "
          f"{r['acked_per_s']:,.0f}/s, refused {r['refused_share']:.0%} of requests (429), p99 of acknowledged "
          f"{r['p99_ms']:.0f} ms, RSS {r['rss_start_mb']:.0f} MB at start, peak {r['rss_peak_mb']:.0f} MB; "
          f"acknowledged {r['acked_spans']:,} spans, persisted {r['persisted_spans']:,}", flush=True)
    kill_payloads = [genai_spans(SPANS_PER_REQUEST, content_bytes=1024, seed=10_000 + i).SerializeToString()
                     for i in range(400)]
    with tempfile.TemporaryDirectory() as tmp:
        k = sigkill(Path(tmp), kill_payloads, args.kill_after)
    print(f"SIGKILL after {args.kill_after:.0f} s under load: {k['acked_spans']:,} spans acknowledged, "
          f"{k['missing']} of them missing after the restart, {k['duplicates']} duplicated, "
          f"{k['rows']:,} rows; delivered {k['recovery_s']:.1f} s after the restart began")


if __name__ == "__main__":
    main()

"""Overload and crash figures for the collector on its default pipeline and embedded store.

1. Sustained rate: 4 senders as fast as the collector acknowledges, until every span is persisted; the rate
   is spans persisted per second (as in bench/collector.py).
2. Overload: for `--seconds` (60), twice that rate is offered open loop (each request leaves on its schedule,
   whatever became of the earlier ones) to a collector whose exporter queue is `--queue-mb` (64 MiB; the
   default is 256 MiB): a request the collector answers with 429 is counted as refused and not retried (a real
   client would retry it later). Reported: spans offered, acknowledged and refused per second, p99 latency of
   acknowledged and of refused requests, requests left unanswered for 30 s, the collector's RSS at the start
   and its peak (sampled every 0.5 s), and whether every acknowledged span was persisted, once, after the
   load stopped.
3. SIGKILL: senders at full speed, the collector killed with SIGKILL after `--kill-after` seconds, restarted on
   the same data directory; reported: spans acknowledged before the kill, how many of them are in ClickHouse
   after the restart (and how many twice), and how long the restart took to deliver them.

Run: `.venv/bin/python -m bench.overload [--seconds 60] [--kill-after 10]`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
import psutil
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.collector import SENDERS, SPANS_PER_REQUEST, default_config
from tests.conftest import Process, free_port, read_client, start_process, stop_process, wait_for
from tests.otlp_data import genai_spans

PB = {"Content-Type": "application/x-protobuf"}


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
    """Offer `rate` spans/s for `seconds`, open loop: each request leaves on its schedule whatever became of the
    earlier ones (as from many independent clients), so a slow answer does not hold the offered rate down."""
    before = stored(p)
    ps = psutil.Process(p.proc.pid)
    rss_start = ps.memory_info().rss
    peak = rss_start
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.5):
            peak = max(peak, ps.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    answers = asyncio.run(_offer(f"{p.http}/v1/traces", payloads, SPANS_PER_REQUEST / rate, seconds))
    elapsed = time.perf_counter() - started
    # Acknowledged per second over the whole time to the last answer (the backlog is answered after the offer ends).
    acked = [t for status, t in answers if status == 200]
    refused = [t for status, t in answers if status in (429, 503)]
    unanswered = sum(1 for status, _ in answers if status == 0)
    unexpected = {status for status, _ in answers} - {0, 200, 429, 503}
    assert not unexpected, f"unexpected statuses {unexpected}"
    expected = len(acked) * SPANS_PER_REQUEST
    wait_for(lambda: stored(p) - before >= expected, timeout=1800, interval=0.5)
    time.sleep(2 if not unanswered else 30)  # anything more (a duplicate, or a request that timed out) lands now
    done.set()
    sampler.join()

    def p99(xs: list[float]) -> float:
        return statistics.quantiles(xs, n=100)[98] * 1000 if len(xs) > 1 else 0.0

    return {"offered_per_s": len(answers) * SPANS_PER_REQUEST / seconds,
            "acked_per_s": expected / elapsed, "refused_share": len(refused) / max(len(answers), 1),
            "unanswered": unanswered, "p99_ms": p99(acked), "refused_p99_ms": p99(refused),
            "rss_start_mb": rss_start / 2**20, "rss_peak_mb": peak / 2**20, "acked_spans": expected,
            "persisted_spans": stored(p) - before}


async def _offer(url: str, payloads: list[bytes], interval: float, seconds: float) -> list[tuple[int, float]]:
    """Post one request every `interval` seconds for `seconds`; (status, seconds to the answer) for each, status
    0 when there was none within 30 s (the client gave up, not knowing whether it was taken)."""
    loop = asyncio.get_running_loop()
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:

        async def post(data: bytes) -> tuple[int, float]:
            t0 = loop.time()
            try:
                async with session.post(url, data=data, headers=PB) as r:
                    await r.read()
                    return r.status, loop.time() - t0
            except (aiohttp.ClientError, asyncio.TimeoutError):
                return 0, loop.time() - t0

        tasks = []
        start = loop.time()
        for i in itertools.count():
            due = start + i * interval
            if due - start >= seconds:
                break
            await asyncio.sleep(max(0.0, due - loop.time()))
            tasks.append(asyncio.ensure_future(post(payloads[i % len(payloads)])))
        return await asyncio.gather(*tasks)


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
            rate = sustained(p, payloads * 3)  # long enough that start-up and the last flush weigh little
            print(f"sustained: {rate:,.0f} spans/s persisted (default pipeline, with content, OTLP/HTTP)", flush=True)
            r = overload(p, payloads, 2 * rate, args.seconds)
        finally:
            stop_process(p)
    print(f"overload at 2x for {args.seconds:.0f} s ({args.queue_mb} MiB queue): offered "
          f"{r['offered_per_s']:,.0f} spans/s, acknowledged "
          f"{r['acked_per_s']:,.0f}/s, refused {r['refused_share']:.0%} of requests (429), "
          f"{r['unanswered']} unanswered; p99 of acknowledged {r['p99_ms']:.0f} ms, of refused "
          f"{r['refused_p99_ms']:.0f} ms; RSS {r['rss_start_mb']:.0f} MB at start, peak {r['rss_peak_mb']:.0f} MB; "
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

"""Nothing acknowledged is lost: through a backend outage, a SIGTERM, a SIGKILL and a restart."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import requests

from llmtap.collector.signals import Signal
from tests.conftest import (
    clickhouse_config,
    free_port,
    memory_config,
    read_client,
    run_service,
    start_process,
    stop_process,
    wait_for,
)
from tests.otlp_data import genai_spans

PB = {"Content-Type": "application/x-protobuf"}


def _send_until(url: str, stop: threading.Event, acked: list[str], spans_per_request: int = 64) -> None:
    """Send requests until `stop`; record the span ids of every acknowledged request."""
    session = requests.Session()
    while not stop.is_set():
        request = genai_spans(spans_per_request, content_bytes=200)
        ids = [s.span_id.hex() for s in request.resource_spans[0].scope_spans[0].spans]
        try:
            r = session.post(url, data=request.SerializeToString(), headers=PB, timeout=10)
        except requests.RequestException:
            continue  # the collector was killed mid-request: not acknowledged, so not counted
        if r.status_code == 200:
            acked.extend(ids)


def test_sigkill_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    ports = {k: free_port() for k in ("grpc", "http", "read", "telemetry")}
    config = tmp_path / "llmtap.yaml"
    config.write_text(clickhouse_config(tmp_path, ports))
    log = tmp_path / "collector.log"
    first = start_process(config, log, ports)
    acked: list[str] = []
    stop = threading.Event()
    senders = [threading.Thread(target=_send_until, args=(f"{first.http}/v1/traces", stop, acked))
               for _ in range(2)]
    for t in senders:
        t.start()
    wait_for(lambda: len(acked) >= 3000, timeout=60, interval=0.02)
    stop_process(first, signal.SIGKILL)
    stop.set()
    for t in senders:
        t.join(30)
    assert len(acked) >= 3000
    second = start_process(config, log, ports)
    try:
        client = read_client(second)
        wait_for(lambda: client.command("SELECT count() FROM otel_traces") >= len(acked), timeout=120)
        rows = client.query("SELECT SpanId, count() FROM otel_traces GROUP BY SpanId HAVING count() > 1 "
                            "LIMIT 5").result_rows
        assert rows == [], f"duplicated spans after restart: {rows}"
        stored = {r[0] for r in client.query("SELECT SpanId FROM otel_traces").result_rows}
        missing = set(acked) - stored
        assert not missing, f"{len(missing)} acknowledged spans missing"
    finally:
        stop_process(second)


def test_sigterm_drains_the_queue(tmp_path: Path) -> None:
    ports = {k: free_port() for k in ("grpc", "http", "read", "telemetry")}
    config = tmp_path / "llmtap.yaml"
    config.write_text(clickhouse_config(tmp_path, ports, batch="{flush_interval: 5s}"))
    log = tmp_path / "collector.log"
    p = start_process(config, log, ports)
    r = requests.post(f"{p.http}/v1/traces", data=genai_spans(10).SerializeToString(), headers=PB)
    assert r.status_code == 200
    assert stop_process(p, signal.SIGTERM) == 0
    queued = list((tmp_path / "data" / "queues").rglob("*.otlp"))
    assert queued == [], "SIGTERM exported what was queued before exiting"
    p = start_process(config, log, ports)
    try:
        assert read_client(p).command("SELECT count() FROM otel_traces") == 10
    finally:
        stop_process(p)


def test_outage_then_restart_with_persistent_queue(tmp_path: Path) -> None:
    exporter = "{sending_queue: {persistent: true}, batch: {min_items: 1, flush_interval: 1ms}, " \
               "retry_on_failure: {initial_interval: 10ms, max_interval: 50ms}}"
    grpc_port, http_port = free_port(), free_port()
    config = memory_config(grpc_port, http_port, tmp_path, exporter=exporter)
    with run_service(config) as c:
        c.exporter().down = True
        for _ in range(5):
            r = requests.post(f"{c.http}/v1/traces", data=genai_spans(20).SerializeToString(), headers=PB)
            assert r.status_code == 200
        wait_for(lambda: c.exporter().attempts >= 3)
        assert c.exporter().items(Signal.TRACES) == 0
    # the collector stopped while the backend was down: the 100 spans wait on disk
    assert len(list(tmp_path.rglob("*.otlp"))) == 5
    with run_service(config) as c:
        wait_for(lambda: c.exporter().items(Signal.TRACES) == 100, timeout=10)
        c.exporter().down = True
        r = requests.post(f"{c.http}/v1/traces", data=genai_spans(7).SerializeToString(), headers=PB)
        assert r.status_code == 200
        wait_for(lambda: c.exporter().attempts >= 4)
        c.exporter().down = False  # the backend comes back while running
        wait_for(lambda: c.exporter().items(Signal.TRACES) == 107, timeout=10)
    assert list(tmp_path.rglob("*.otlp")) == []


def test_a_request_the_queue_cannot_store_is_refused_not_acknowledged(tmp_path: Path) -> None:
    """The answer waits for the request's file: when the write fails the client gets a 503 to retry, and the
    refused request is not exported."""
    exporter = "{sending_queue: {persistent: true}, batch: {min_items: 1, flush_interval: 1ms}}"
    config = memory_config(free_port(), free_port(), tmp_path, exporter=exporter)
    queue_dir = tmp_path / "queues" / "memory" / "traces"
    with run_service(config) as c:
        (queue_dir / "0000000000000001.tmp").mkdir()  # the first request's file cannot be created
        body = genai_spans(20).SerializeToString()
        refused = requests.post(f"{c.http}/v1/traces", data=body, headers=PB)
        assert refused.status_code == 503, refused.text
        assert "cannot store the request" in refused.text and refused.headers["Retry-After"] == "5"
        labels = {"receiver": "otlp", "transport": "http", "signal": "traces"}
        refused_items = {reason: c.service.telemetry.registry.get_sample_value(
            "llmtap_receiver_refused_items_total", {**labels, "reason": reason})
            for reason in ("queue_write_failed", "queue_full")}
        assert refused_items == {"queue_write_failed": 20, "queue_full": 0}, "a failed write, not a full queue"
        assert requests.post(f"{c.http}/v1/traces", data=body, headers=PB).status_code == 200  # the retry
        wait_for(lambda: c.exporter().items(Signal.TRACES) == 20, timeout=10)
        assert len(c.exporter().tokens) == 1 and c.exporter().tokens[0].endswith(":2-2")

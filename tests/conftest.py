"""Fixtures that run the real collector on loopback: in-process (on its own event loop thread) or as a
subprocess (for SIGTERM / SIGKILL tests and the embedded chDB store, which allows one engine per process)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from llmtap.collector import components
from llmtap.collector.component import Exporter, Factory
from llmtap.collector.exporter import ExporterSettings
from llmtap.collector.queue import QueueConfig, RetryableError
from llmtap.collector.service import Service, parse_config
from llmtap.collector.signals import Signal, count_items
from tests.providers.server import ProviderServer

_handed_out: set[int] = set()


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range: a port the kernel picked (bind to 0) can be handed
    to an outgoing connection before the server binds it, which made tests fail with EADDRINUSE."""
    low, _ = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    for _ in range(1000):
        port = random.randint(10000, max(low - 1, 10001))
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")


# ------------------------------------------------------------------------------------------------
# A controllable backend, registered as the `memory` exporter for tests


class MemoryExporterConfig(ExporterSettings):
    sending_queue: QueueConfig = QueueConfig(persistent=False)


class MemoryExporter(Exporter):
    """Keeps what it receives; can be made to fail (`down`) or to block (`gate`) to test delivery."""

    instances: dict[str, MemoryExporter] = {}

    def __init__(self, component_id: str, config: MemoryExporterConfig):
        super().__init__(component_id)
        self.config = config
        self.payloads: dict[Signal, list[bytes]] = {s: [] for s in Signal}
        self.tokens: list[str] = []
        self.down = False
        self.gate = threading.Event()
        self.gate.set()
        self.attempts = 0
        MemoryExporter.instances[component_id] = self

    def export(self, signal: Signal, payloads: list[bytes], dedup_token: str) -> None:
        self.attempts += 1
        self.gate.wait(30)
        if self.down:
            raise RetryableError("backend down", retry_after=0.05)
        self.payloads[signal].extend(payloads)
        self.tokens.append(dedup_token)

    def items(self, signal: Signal) -> int:
        total = 0
        for data in self.payloads[signal]:
            message = signal.request_type()
            message.ParseFromString(data)
            total += count_items(signal, message)
        return total

    def messages(self, signal: Signal) -> list[Any]:
        out = []
        for data in self.payloads[signal]:
            message = signal.request_type()
            message.ParseFromString(data)
            out.append(message)
        return out


components.EXPORTERS.setdefault("memory", Factory("memory", MemoryExporterConfig, MemoryExporter))


# ------------------------------------------------------------------------------------------------
# In-process service


@dataclass
class Running:
    service: Service
    loop: asyncio.AbstractEventLoop
    grpc: str
    http: str

    def exporter(self, name: str = "memory") -> MemoryExporter:
        exporter = self.service.exporters[name]
        assert isinstance(exporter, MemoryExporter)
        return exporter

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)


def memory_config(grpc_port: int, http_port: int, data_dir: Path, extra_receiver: str = "",
                  exporter: str = "{}", extra_grpc: str = "", processors: dict[str, str] | None = None,
                  logs_processors: tuple[str, ...] = ()) -> str:
    """`extra_receiver` is added to both protocols' settings, `extra_grpc` to gRPC's only; `processors`
    (id: YAML config) run in that order in the traces pipeline, and those named in `logs_processors` in
    the logs pipeline."""
    processors = processors or {}
    section = "".join(f"\n  {pid}: {cfg}" for pid, cfg in processors.items())
    return f"""
processors:{section or " {}"}
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc_port}"{extra_receiver}{extra_grpc}}}
      http: {{endpoint: "127.0.0.1:{http_port}", max_request_body_size: 1MiB{extra_receiver}}}
exporters:
  memory: {exporter}
service:
  data_dir: {data_dir}
  shutdown_timeout: 2s
  telemetry: {{metrics: {{endpoint: null}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [{", ".join(processors)}], exporters: [memory]}}
    metrics: {{receivers: [otlp], exporters: [memory]}}
    logs: {{receivers: [otlp], processors: [{", ".join(logs_processors)}], exporters: [memory]}}
"""


@contextlib.contextmanager
def run_service(config_text: str) -> Iterator[Running]:
    config = parse_config(config_text)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    service = Service(config)
    asyncio.run_coroutine_threadsafe(service.start(), loop).result(60)
    otlp = config.receivers["otlp"]
    protocols = otlp.protocols  # type: ignore[attr-defined]
    try:
        yield Running(service, loop, protocols.grpc.endpoint if protocols.grpc else "",
                      f"http://{protocols.http.endpoint}" if protocols.http else "")
    finally:
        asyncio.run_coroutine_threadsafe(service.shutdown(drain_timeout=2), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Running]:
    with run_service(memory_config(free_port(), free_port(), tmp_path)) as running:
        yield running


# ------------------------------------------------------------------------------------------------
# Subprocess collector


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    config: Path
    log: Path
    ports: dict[str, int]

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.ports['http']}"

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.ports['grpc']}"


def start_process(config: Path, log: Path, ports: dict[str, int], timeout: float = 60) -> Process:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = open(log, "ab")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen([sys.executable, "-m", "llmtap.collector.cli", "serve", "--config", str(config)],
                            stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"collector exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ports['telemetry']}/readyz", timeout=1) as r:
                if r.status == 200:
                    return Process(proc, config, log, ports)
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"collector not ready in {timeout}s:\n{log.read_text()}")


def stop_process(p: Process, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
    if p.proc.poll() is None:
        p.proc.send_signal(sig)
    return p.proc.wait(timeout)


def clickhouse_config(tmp_path: Path, ports: dict[str, int], batch: str | None = "{flush_interval: 50ms}",
                      processors: bool = True) -> str:
    """The embedded default's pipelines on test ports. `batch` is the exporter's batch settings (None keeps the
    defaults); without `processors`, the traces and logs pipelines run none."""
    batch_line = f"\n    batch: {batch}" if batch else ""
    text = f"""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{ports['grpc']}"}}
      http: {{endpoint: "127.0.0.1:{ports['http']}"}}
processors:
  normalize: {{}}
  redact: {{}}
  cost: {{}}
  sample: {{}}
connectors:
  genai_metrics: {{flush_interval: 1s}}
exporters:
  clickhouse:
    dsn: "chdb://{tmp_path}/clickhouse"
    read_endpoint: "127.0.0.1:{ports['read']}"
    ttl: 720h{batch_line}
service:
  data_dir: {tmp_path}/data
  shutdown_timeout: 10s
  telemetry: {{metrics: {{endpoint: "127.0.0.1:{ports['telemetry']}"}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [normalize, redact, cost, genai_metrics, sample], exporters: [clickhouse]}}
    metrics: {{receivers: [otlp, genai_metrics], exporters: [clickhouse]}}
    logs: {{receivers: [otlp], processors: [normalize, redact], exporters: [clickhouse]}}
    logs/calls: {{receivers: [genai_metrics], exporters: [clickhouse]}}
"""
    if not processors:
        text = text.replace("processors: [normalize, redact, cost, genai_metrics, sample]", "processors: []")
        text = text.replace("processors: [normalize, redact]", "processors: []")
        text = text.replace("otlp, genai_metrics]", "otlp]")
        text = text.split("    logs/calls:")[0]
        text = text.replace("connectors:\n  genai_metrics: {flush_interval: 1s}\n", "")
    return text


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Process]:
    """A collector subprocess writing the embedded ClickHouse store."""
    ports = {k: free_port() for k in ("grpc", "http", "read", "telemetry")}
    config = tmp_path / "llmtap.yaml"
    config.write_text(clickhouse_config(tmp_path, ports))
    p = start_process(config, tmp_path / "collector.log", ports)
    try:
        yield p
    finally:
        stop_process(p)


def read_client(p: Process) -> Any:
    import clickhouse_connect

    return clickhouse_connect.get_client(host="127.0.0.1", port=p.ports["read"])


def wait_for(predicate: Any, timeout: float = 30, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met in {timeout}s (last value {last!r})")


@pytest.fixture(scope="session")
def provider() -> Iterator[ProviderServer]:
    """The local provider-compatible server (OpenAI, Anthropic and Gemini wire formats)."""
    server = ProviderServer().start()
    yield server
    server.stop()

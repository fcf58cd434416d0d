"""`PrometheusExporter`: metrics to Prometheus by remote write 1.0 (protobuf + snappy), and/or served on a
`/metrics` endpoint for Prometheus to scrape."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from pathlib import Path

import cramjam
from aiohttp import web
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from llmtap.collector.component import Exporter, Host
from llmtap.collector.signals import Signal
from llmtap.collector.telemetry import split_endpoint
from llmtap.exporters.otlp_client import HTTPClient
from llmtap.exporters.prometheus.config import PrometheusExporterConfig
from llmtap.exporters.prometheus.prompb import MetricType, WriteRequest
from llmtap.exporters.prometheus.translate import Translator, Write

log = logging.getLogger("llmtap.exporter.prometheus")
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Remote write's retry rule: 5xx and 429 (the OTLP one leaves out 500)."""
_TYPES = {"counter": "COUNTER", "gauge": "GAUGE", "histogram": "HISTOGRAM", "summary": "SUMMARY"}


def encode(write: Write) -> bytes:
    """A remote write 1.0 body: the WriteRequest, snappy block format."""
    request = WriteRequest()
    for labels, samples in write.series.items():
        if not samples:
            continue
        ts = request.timeseries.add()
        for name, label in labels:
            ts.labels.add(name=name, value=label)
        for when, value in samples:
            ts.samples.add(value=value, timestamp=when)
    for name, family in write.families.items():
        request.metadata.add(type=MetricType.values_by_name[_TYPES[family.kind]].number, metric_family_name=name,
                             help=family.help, unit=family.unit)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


class PrometheusExporter(Exporter):
    signals = frozenset({Signal.METRICS})

    def __init__(self, component_id: str, config: PrometheusExporterConfig):
        super().__init__(component_id)
        self.config = config
        self.translator = Translator(config.resource_to_telemetry_conversion)
        self.lock = threading.Lock()
        self.client = HTTPClient(config.endpoint, Signal.METRICS, gzip_body=False, timeout=config.timeout,
                                 headers={"Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": "0.1.0",
                                          "User-Agent": "llmtap", **config.headers},
                                 retry_statuses=_RETRY_STATUSES) if config.endpoint else None
        self._runner: web.AppRunner | None = None
        self.dropped_samples = 0
        self.state_file: Path | None = None
        """Delta totals kept across restarts, so counters built from deltas do not reset."""

    async def start(self, host: Host) -> None:
        self.state_file = host.data_dir / "prometheus" / f"{self.id.replace('/', '_')}.json"
        if self.state_file.exists():
            try:
                self.translator.load(json.loads(self.state_file.read_text()))
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("%s: ignoring unreadable state %s: %s", self.id, self.state_file, exc)
        if self.config.pull is not None:
            app = web.Application()
            app.router.add_get("/metrics", self._scrape)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            address, port = split_endpoint(self.config.pull.endpoint)
            await web.TCPSite(self._runner, address, port).start()

    async def shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self.client is not None:
            self.client.close()
        if self.state_file is not None:
            with self.lock:
                state = self.translator.save()
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            tmp.replace(self.state_file)

    def export(self, signal: Signal, payloads: list[bytes], dedup_token: str) -> None:
        requests_ = [ExportMetricsServiceRequest.FromString(p) for p in payloads]
        with self.lock:
            write = self.translator.translate(requests_)
            self.translator.stale(write, int(time.time() * 1000), int(self.config.stale_after * 1000))
        if self.client is not None:
            self.client.send(encode(write))  # raises for a retry: the state stays as it was
        with self.lock:
            self.translator.commit(write)
        if write.dropped:
            self.dropped_samples += write.dropped
            log.warning("%s: %d samples not after their series' last one were left out", self.id, write.dropped)

    async def _scrape(self, request: web.Request) -> web.Response:
        return web.Response(text=self.exposition(), content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})

    def exposition(self) -> str:
        """The latest sample of every series in the Prometheus text format (0.0.4), with their timestamps."""
        with self.lock:
            latest = dict(self.translator.latest)
            families = dict(self.translator.families)
        by_family: dict[str, list[str]] = {}
        for labels, (ts, value) in sorted(latest.items()):
            name = dict(labels)["__name__"]
            family = next((f for f in (name, name.rsplit("_", 1)[0]) if f in families), name)
            body = ",".join(f'{k}="{_escape(v)}"' for k, v in labels if k != "__name__")
            by_family.setdefault(family, []).append(f"{name}{{{body}}} {_number(value)} {ts}")
        lines: list[str] = []
        for family, samples in by_family.items():
            info = families.get(family)
            if info is not None:
                lines.append(f"# HELP {family} {_escape(info.help)}" if info.help else f"# HELP {family}")
                lines.append(f"# TYPE {family} {info.kind}")
            lines.extend(samples)
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


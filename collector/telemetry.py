"""The collector's own telemetry: Prometheus metrics, `/healthz` and `/readyz` on one port.

`llmtap_receiver_refused_items_total` and `llmtap_exporter_dropped_items_total` should stay at zero;
dashboards and alerts (grafana/) watch them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from llmtap.collector.queue import BoundedQueue

log = logging.getLogger("llmtap.telemetry")


class _QueueCollector(Collector):
    def __init__(self, queues: Callable[[], list[BoundedQueue]]):
        self.queues = queues

    def collect(self):  # type: ignore[no-untyped-def]
        size = GaugeMetricFamily("llmtap_exporter_queue_size_bytes", "Bytes waiting in an exporter queue",
                                 labels=["queue"])
        items = GaugeMetricFamily("llmtap_exporter_queue_items", "Items waiting in an exporter queue",
                                  labels=["queue"])
        capacity = GaugeMetricFamily("llmtap_exporter_queue_capacity_bytes", "Capacity of an exporter queue",
                                     labels=["queue"])
        for q in self.queues():
            size.add_metric([q.name], q.size_bytes)
            items.add_metric([q.name], q.size_items)
            capacity.add_metric([q.name], q.max_bytes)
        yield size
        yield items
        yield capacity


class SelfTelemetry:
    """Counters every component reports into, and the HTTP endpoint that serves them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.accepted = Counter("llmtap_receiver_accepted_items", "Items acknowledged by a receiver",
                                ["receiver", "transport", "signal"], registry=r)
        self.refused = Counter("llmtap_receiver_refused_items",
                               "Items a receiver answered with an error (backpressure, invalid, unauthorized)",
                               ["receiver", "transport", "signal", "reason"], registry=r)
        self.busy = Counter("llmtap_receiver_busy_refusals",
                            "Requests refused unread (so their items are not counted) because the receiver held "
                            "max_inflight_bytes of requests", ["receiver", "transport", "signal"], registry=r)
        self.inflight = Gauge("llmtap_receiver_inflight_bytes", "Bytes of requests a receiver is reading and "
                              "processing", ["receiver"], registry=r)
        self.inflight_limit = Gauge("llmtap_receiver_inflight_limit_bytes", "A receiver's max_inflight_bytes",
                                    ["receiver"], registry=r)
        self.requests = Counter("llmtap_receiver_requests", "Export requests by outcome",
                                ["receiver", "transport", "signal", "code"], registry=r)
        self.exported = Counter("llmtap_exporter_sent_items", "Items delivered by an exporter", ["queue"],
                                registry=r)
        self.export_failures = Counter("llmtap_exporter_send_failed_items",
                                       "Items in export attempts that failed and will be retried", ["queue"],
                                       registry=r)
        self.dropped = Counter("llmtap_exporter_dropped_items",
                               "Items given up on (refused by the backend as invalid, or retries exhausted)",
                               ["queue"], registry=r)
        self.export_latency = Histogram("llmtap_exporter_send_duration_seconds", "Duration of one export attempt",
                                        ["queue"], registry=r,
                                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.redacted = Counter("llmtap_processor_redacted_findings", "PII and secrets found by a redact processor",
                                ["processor", "type"], registry=r)
        self.sampled = Counter("llmtap_processor_sampled_spans", "Spans a sample processor kept or dropped",
                               ["processor", "decision"], registry=r)
        self.tail_traces = Counter("llmtap_processor_tail_traces",
                                   "Traces a tail sampler decided: kept after the wait, kept early because "
                                   "max_traces was reached (evicted), dropped; late counts spans after a decision",
                                   ["processor", "outcome"], registry=r)
        self.processor_cpu = Counter("llmtap_processor_cpu_seconds",
                                     "CPU time the collector's thread spent in a processor or connector (what "
                                     "each costs, against process_cpu_seconds_total)", ["processor"], registry=r)
        self.ready = Gauge("llmtap_ready", "1 when every component has started", registry=r)
        self._queues: list[BoundedQueue] = []
        r.register(_QueueCollector(lambda: self._queues))
        self._runner: web.AppRunner | None = None
        self.is_ready = False

    def add_queue(self, queue: BoundedQueue) -> None:
        self._queues.append(queue)
        for counter in (self.exported, self.export_failures, self.dropped):
            counter.labels(queue.name)  # at 0 from the start: rate() sees the first failure

    def add_admission(self, receiver: str, in_flight: Callable[[], float], limit: int) -> None:
        self.inflight.labels(receiver).set_function(in_flight)
        self.inflight_limit.labels(receiver).set(limit)

    def export_result(self, queue: str, items: int, seconds: float, outcome: str) -> None:
        self.export_latency.labels(queue).observe(seconds)
        if outcome == "success":
            self.exported.labels(queue).inc(items)
        elif outcome == "retry":
            self.export_failures.labels(queue).inc(items)
        else:
            self.dropped.labels(queue).inc(items)

    def set_ready(self, ready: bool) -> None:
        self.is_ready = ready
        self.ready.set(1 if ready else 0)

    async def serve(self, endpoint: str) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        host, port = split_endpoint(endpoint)
        await web.TCPSite(self._runner, host, port).start()
        log.info("self-telemetry on http://%s/metrics", endpoint)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        if self.is_ready:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "starting or stopping"}, status=503)


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """`127.0.0.1:4318` -> ("127.0.0.1", 4318); `[::1]:4317` -> ("::1", 4317); `:4318` -> ("0.0.0.0", 4318)."""
    host, sep, port = endpoint.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"endpoint {endpoint!r} is not host:port")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)

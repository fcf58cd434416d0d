"""The `prometheus` exporter against the real Prometheus: remote write, then its query API; the pull endpoint
scraped by it; counters that continue across a collector restart."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from llmtap.collector.config import ConfigError
from llmtap.collector.service import parse_config
from llmtap.exporters.prometheus.translate import Translator, Write, _le, label_name, metric_name
from tests.conftest import free_port, run_service, wait_for
from tests.otlp_data import genai_spans
from tests.prometheus_server import Prometheus, start_prometheus

PB = {"Content-Type": "application/x-protobuf"}


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Prometheus]:
    server = start_prometheus(tmp_path / "prom")
    yield server
    server.stop()


def config(tmp_path: Path, prometheus: str, grpc_port: int, http_port: int) -> str:
    return f"""
receivers:
  otlp: {{protocols: {{grpc: {{endpoint: "127.0.0.1:{grpc_port}"}}, http: {{endpoint: "127.0.0.1:{http_port}"}}}}}}
processors:
  cost: {{}}
connectors:
  genai_metrics: {{flush_interval: 200ms}}
exporters:
  debug: {{}}
  prometheus: {prometheus}
service:
  data_dir: {tmp_path}
  shutdown_timeout: 5s
  telemetry: {{metrics: {{endpoint: null}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [cost, genai_metrics], exporters: [debug]}}
    metrics: {{receivers: [otlp, genai_metrics], exporters: [prometheus]}}
"""


def test_names_follow_prometheus_otlp_translation() -> None:
    duration = metric_name("gen_ai.client.operation.duration", "s", "histogram")
    assert duration == "gen_ai_client_operation_duration_seconds"
    assert metric_name("llmtap.requests", "{request}", "counter") == "llmtap_requests_total"
    assert metric_name("llmtap.cost.usd", "{USD}", "counter") == "llmtap_cost_usd_total"
    assert metric_name("http.server.request.size", "By", "histogram") == "http_server_request_size_bytes"
    assert metric_name("cpu.utilization", "1", "gauge") == "cpu_utilization_ratio"
    assert metric_name("net.throughput", "By/s", "gauge") == "net_throughput_bytes_per_second"
    assert metric_name("queue.size", "", "gauge") == "queue_size"
    assert label_name("gen_ai.request.model") == "gen_ai_request_model" and label_name("2xx") == "key_2xx"
    assert [_le(b) for b in (2.0, 0.5, 1e-05, 250.0, math.inf)] == ["2", "0.5", "0.00001", "250", "+Inf"]


def test_a_new_delta_series_starts_with_a_zero_at_its_start_time() -> None:
    """One increment of a new series is visible to rate()/increase(): a 0 at the interval's start, then the
    total; the next interval continues from the total without another zero."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

    from llmtap.exporters.prometheus.translate import Translator

    def request(start_s: int, end_s: int, calls: int) -> ExportMetricsServiceRequest:
        r = ExportMetricsServiceRequest()
        metrics = r.resource_metrics.add().scope_metrics.add().metrics
        counter = metrics.add(name="llmtap.requests", unit="{request}")
        counter.sum.is_monotonic = True
        counter.sum.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
        point = counter.sum.data_points.add(start_time_unix_nano=start_s * 10**9, time_unix_nano=end_s * 10**9,
                                            as_int=calls)
        hist = metrics.add(name="llmtap.request.duration", unit="s")
        hist.histogram.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
        hp = hist.histogram.data_points.add(start_time_unix_nano=point.start_time_unix_nano,
                                            time_unix_nano=point.time_unix_nano, count=calls, sum=2.0 * calls)
        hp.explicit_bounds.append(1.0)
        hp.bucket_counts.extend([0, calls])
        return r

    translator = Translator()
    first = translator.translate([request(100, 115, 1)])
    translator.commit(first)
    assert first.series[(("__name__", "llmtap_requests_total"),)] == [(100_000, 0.0), (115_000, 1.0)]
    assert first.series[(("__name__", "llmtap_request_duration_seconds_count"),)] == [(100_000, 0.0), (115_000, 1.0)]
    assert first.series[(("__name__", "llmtap_request_duration_seconds_bucket"), ("le", "+Inf"))][0] == (100_000, 0.0)
    second = translator.translate([request(115, 130, 2)])
    assert second.series[(("__name__", "llmtap_requests_total"),)] == [(130_000, 3.0)]


def _per_user_calls(users: list[str], at_s: int) -> ExportMetricsServiceRequest:
    """One delta counter point and one delta histogram point per user, ending at `at_s`."""
    request = ExportMetricsServiceRequest()
    metrics = request.resource_metrics.add().scope_metrics.add().metrics
    counter = metrics.add(name="calls")
    counter.sum.is_monotonic = True
    counter.sum.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    hist = metrics.add(name="latency", unit="s")
    hist.histogram.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    for user in users:
        point = counter.sum.data_points.add(start_time_unix_nano=(at_s - 10) * 10**9, time_unix_nano=at_s * 10**9,
                                            as_int=1)
        point.attributes.add(key="user", value=AnyValue(string_value=user))
        hp = hist.histogram.data_points.add(start_time_unix_nano=point.start_time_unix_nano,
                                            time_unix_nano=point.time_unix_nano, count=1, sum=0.5)
        hp.attributes.add(key="user", value=AnyValue(string_value=user))
        hp.explicit_bounds.append(1.0)
        hp.bucket_counts.extend([1, 0])
    return request


STALE_AFTER_MS = 300_000


def _export(translator: Translator, users: list[str], at_s: int, now_ms: int | None = None) -> Write:
    """What the exporter does with one request: translate, mark what went stale by `now_ms` (default: the
    points' own time), commit."""
    write = translator.translate([_per_user_calls(users, at_s)])
    translator.stale(write, at_s * 1000 if now_ms is None else now_ms, STALE_AFTER_MS)
    translator.commit(write)
    return write


def test_state_of_series_that_stop_is_forgotten() -> None:
    """One-off label values (ids) must not grow the exporter's state for as long as the collector runs."""
    translator = Translator()
    t0 = 1_700_000_000
    export = functools.partial(_export, translator)

    export([f"user-{i}" for i in range(100)], t0)
    export(["steady"], t0 + 1)
    assert len(translator.totals) == 202 and len(translator.latest) == 101 * 5  # counter + 4 histogram series
    write = export(["steady"], t0 + 301)  # five minutes on: the one-off users go stale
    marked = [labels for labels, samples in write.series.items() if math.isnan(samples[-1][1])]
    assert len(marked) == 100 * 5
    assert len(translator.totals) == 2 and len(translator.latest) == 5, "only the steady user's state is left"
    assert len(translator.last) == 101 * 5, "stale series keep their last timestamp a while (no write before it)"
    export(["steady"], t0 + 301 + 3600)
    assert len(translator.last) == 5 and len(translator.totals) == 2
    assert write.series[(("__name__", "calls_total"), ("user", "steady"))] == [(1000 * (t0 + 301), 2.0)]
    # A user who comes back starts again from zero, after the staleness marker: a counter reset to Prometheus.
    back = export(["user-7"], t0 + 4000)
    assert back.series[(("__name__", "calls_total"), ("user", "user-7"))] == [(1000 * (t0 + 3990), 0.0),
                                                                            (1000 * (t0 + 4000), 1.0)]


def test_late_data_is_not_made_stale_while_it_still_comes() -> None:
    """A backlog delivered after an outage (points minutes old) must not be cut by staleness markers at the
    collector's now, which would make every later point of the backlog out of order, and dropped."""
    translator = Translator()
    now = 1_700_000_000_000
    old = now // 1000 - 360  # the backlog's points are six minutes old
    export = functools.partial(_export, translator)

    b = (("__name__", "calls_total"), ("user", "b"))
    export(["a", "b"], old, now)
    catching_up = export(["a"], old + 10, now + 1000)  # b is not in this part of the backlog
    assert not [k for k, samples in catching_up.series.items() if math.isnan(samples[-1][1])]
    later = export(["a", "b"], old + 20, now + 2000)
    assert later.series[b] == [(1000 * (old + 20), 2.0)] and not later.dropped
    # b then stops: stale five minutes (collector's clock) after it was last written, marked at its own time.
    gone = export(["a"], old + 330, now + 302_000)
    assert math.isnan(gone.series[b][0][1]) and gone.series[b][0][0] == 1000 * (old + 20) + STALE_AFTER_MS


def test_remote_write_counters_histograms_and_target_info(tmp_path: Path, prometheus: Prometheus) -> None:
    grpc_port, http_port = free_port(), free_port()
    settings = f"{{endpoint: '{prometheus.remote_write}', batch: {{flush_interval: 50ms}}}}"
    with run_service(config(tmp_path, settings, grpc_port, http_port)) as running:
        resource = Resource.create({"service.name": "chatbot", "service.instance.id": "pod-1",
                                    "deployment.environment.name": "prod"})
        reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=running.grpc, insecure=True),
                                               export_interval_millis=200)
        provider = MeterProvider(resource=resource, metric_readers=[reader])
        meter = provider.get_meter("app")
        calls = meter.create_counter("app.calls", unit="{call}")
        duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s",
                                          explicit_bucket_boundaries_advisory=[0.5, 1, 2, 4, 8])
        calls.add(3, {"route": "/chat"})
        for seconds in (0.3, 0.7, 1.5, 1.8, 3.0, 6.0):
            duration.record(seconds, {"gen_ai.request.model": "gpt-4o"})
        calls.add(4, {"route": "/chat"})
        provider.shutdown()
        spans = [genai_spans(40, seed=i, service="support-bot") for i in range(3)]
        for request in spans:
            assert requests.post(f"{running.http}/v1/traces", data=request.SerializeToString(),
                                 headers=PB).status_code == 200
        wait_for(lambda: prometheus.value('sum(llmtap_requests_total{job="support-bot"})') == 120)
        wait_for(lambda: prometheus.value('app_calls_total{job="chatbot",instance="pod-1"}') == 7)
    count = prometheus.value('gen_ai_client_operation_duration_seconds_count{job="chatbot"}')
    assert count == 6
    assert prometheus.value('gen_ai_client_operation_duration_seconds_bucket{le="2"}') == 4
    # the median of six values in (1, 2]: Prometheus interpolates inside the bucket that holds it
    median = prometheus.value("histogram_quantile(0.5, sum by (le) (gen_ai_client_operation_duration_seconds_bucket))")
    assert median is not None and 1.0 < median <= 2.0
    info = prometheus.query('target_info{job="chatbot"}')
    assert info and info[0]["metric"]["deployment_environment_name"] == "prod"
    input_tokens = sum(kv.value.int_value for r in spans for s in r.resource_spans[0].scope_spans[0].spans
                       for kv in s.attributes if kv.key == "gen_ai.usage.input_tokens")
    assert prometheus.value('sum(llmtap_tokens_total{gen_ai_token_type="input"})') == input_tokens
    assert prometheus.value("sum(llmtap_request_duration_seconds_count)") == 120
    cost = prometheus.value("sum(llmtap_cost_usd_total)")
    assert cost is not None and cost > 0
    models = {r["metric"]["gen_ai_request_model"] for r in prometheus.query("llmtap_requests_total")}
    assert models >= {"gpt-4o", "gpt-4o-mini"}


def test_counters_continue_across_a_restart(tmp_path: Path, prometheus: Prometheus) -> None:
    grpc_port, http_port = free_port(), free_port()
    text = config(tmp_path, f"{{endpoint: '{prometheus.remote_write}', batch: {{flush_interval: 50ms}}}}",
                  grpc_port, http_port)
    for round_, n in enumerate((30, 20)):
        with run_service(text) as running:
            requests.post(f"{running.http}/v1/traces", data=genai_spans(n, seed=round_).SerializeToString(),
                          headers=PB)
            expected = 30 if round_ == 0 else 50
            wait_for(lambda expected=expected: prometheus.value("sum(llmtap_requests_total)") == expected)
    # one series per label set, never reset: the second run went on from the first run's totals
    assert prometheus.value("sum(resets(llmtap_requests_total[10m]))") == 0


def test_pull_endpoint_is_scraped(tmp_path: Path) -> None:
    pull = free_port()
    server = start_prometheus(tmp_path / "prom", scrape=f"127.0.0.1:{pull}")
    try:
        with run_service(config(tmp_path, f"{{pull: {{endpoint: '127.0.0.1:{pull}'}}}}", free_port(),
                                free_port())) as running:
            requests.post(f"{running.http}/v1/traces", data=genai_spans(25, service="puller").SerializeToString(),
                          headers=PB)
            wait_for(lambda: "llmtap_requests_total" in requests.get(f"http://127.0.0.1:{pull}/metrics").text)
            text = requests.get(f"http://127.0.0.1:{pull}/metrics").text
            assert "# TYPE llmtap_requests_total counter" in text
            assert "# TYPE llmtap_request_duration_seconds histogram" in text
            wait_for(lambda: server.value('sum(llmtap_requests_total{job="llmtap-pull"})') == 25)
    finally:
        server.stop()


def test_config_needs_a_destination(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="set endpoint"):
        parse_config(config(tmp_path, "{}", free_port(), free_port()))


def test_prometheus_down_then_back_gets_everything(tmp_path: Path) -> None:
    prometheus = start_prometheus(tmp_path / "prom")
    port = int(prometheus.url.rsplit(":", 1)[1])
    settings = (f"{{endpoint: '{prometheus.remote_write}', batch: {{flush_interval: 50ms}}, "
                "retry_on_failure: {initial_interval: 100ms, max_interval: 500ms}}")
    try:
        with run_service(config(tmp_path, settings, free_port(), free_port())) as running:
            requests.post(f"{running.http}/v1/traces", data=genai_spans(15, seed=1).SerializeToString(), headers=PB)
            wait_for(lambda: prometheus.value("sum(llmtap_requests_total)") == 15)
            prometheus.stop()
            for seed in (2, 3):  # accepted and queued while Prometheus is down
                r = requests.post(f"{running.http}/v1/traces", data=genai_spans(10, seed=seed).SerializeToString(),
                                  headers=PB)
                assert r.status_code == 200
            wait_for(lambda: running.service.telemetry.registry.get_sample_value(
                "llmtap_exporter_send_failed_items_total", {"queue": "prometheus/metrics"}) or 0)
            prometheus = start_prometheus(tmp_path / "prom", port=port)
            wait_for(lambda: prometheus.value("sum(llmtap_requests_total)") == 35)
    finally:
        prometheus.stop()

"""Collector health: what llmtap accepted, refused and dropped, its queues, and how exports go.

Reads the collector's own metrics (`service.telemetry.metrics`, port 8888) as Prometheus scrapes them."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from .common import RATE, base, label_variable, promql, row, series, single

INSTANCE = 'instance=~"$instance"'


def build() -> model.Dashboard:
    board = (base("llmtap-collector", "llmtap collector health",
                  "The llmtap collector's own telemetry: receivers, processors, exporter queues and exports.")
             .with_variable(label_variable("instance", "instance", "Instance", metric="llmtap_ready")))
    board = (board
             .with_row(row("Intake"))
             .with_panel(single("Collectors ready", "short", promql(f"sum(llmtap_ready{{{INSTANCE}}})"),
                                description="Instances whose every component has started (/readyz)."))
             .with_panel(single("Accepted items/s", "short", promql(
                 f"sum(rate(llmtap_receiver_accepted_items_total{{{INSTANCE}}}[{RATE}]))")))
             .with_panel(single("Refused items/s", "short", promql(
                 f"sum(rate(llmtap_receiver_refused_items_total{{{INSTANCE}}}[{RATE}]))"),
                                description="Answered with backpressure (429/RESOURCE_EXHAUSTED), as invalid or "
                                            "as unauthorized."))
             .with_panel(single("Dropped items/s", "short", promql(
                 f"sum(rate(llmtap_exporter_dropped_items_total{{{INSTANCE}}}[{RATE}]))"),
                                description="Given up on: refused by a backend as invalid, or retries exhausted."))
             .with_panel(series("Accepted items/s by signal", "short", promql(
                 f"sum by (signal, transport) (rate(llmtap_receiver_accepted_items_total{{{INSTANCE}}}[{RATE}]))",
                 "{{signal}} {{transport}}")))
             .with_panel(series("Requests/s by outcome", "reqps", promql(
                 f"sum by (signal, code) (rate(llmtap_receiver_requests_total{{{INSTANCE}}}[{RATE}]))",
                 "{{signal}} {{code}}")))
             .with_panel(series("Refused items/s by reason", "short", promql(
                 f"sum by (reason) (rate(llmtap_receiver_refused_items_total{{{INSTANCE}}}[{RATE}]))",
                 "{{reason}}")))
             .with_panel(series("Receiver in-flight budget", "percentunit", promql(
                 f"llmtap_receiver_inflight_bytes{{{INSTANCE}}} / llmtap_receiver_inflight_limit_bytes{{{INSTANCE}}}",
                 "{{receiver}}"), description="Bytes of requests being read and processed, of max_inflight_bytes: "
                                             "at 100% new requests are refused unread (busy)."))
             .with_panel(series("Requests refused busy/s", "reqps", promql(
                 f"sum by (transport) (rate(llmtap_receiver_busy_refusals_total{{{INSTANCE}}}[{RATE}]))",
                 "{{transport}}"), description="Refused before being read, so their items are not counted "
                                               "among the refused items: the collector is at its processing "
                                               "limit. Clients retry them later."))
             .with_panel(series("Spans sampled", "short", promql(
                 f"sum by (decision) (rate(llmtap_processor_sampled_spans_total{{{INSTANCE}}}[{RATE}]))",
                 "{{decision}}")))
             .with_row(row("Exporters"))
             .with_panel(series("Queue fill", "percentunit", promql(
                 f"llmtap_exporter_queue_size_bytes{{{INSTANCE}}} / llmtap_exporter_queue_capacity_bytes"
                 f"{{{INSTANCE}}}", "{{queue}}"), description="At 100% the receivers answer with backpressure."))
             .with_panel(series("Items waiting", "short", promql(
                 f"sum by (queue) (llmtap_exporter_queue_items{{{INSTANCE}}})", "{{queue}}")))
             .with_panel(series("Items sent/s", "short", promql(
                 f"sum by (queue) (rate(llmtap_exporter_sent_items_total{{{INSTANCE}}}[{RATE}]))", "{{queue}}")))
             .with_panel(series("Failed (retried) and dropped items/s", "short", promql(
                 f"sum by (queue) (rate(llmtap_exporter_send_failed_items_total{{{INSTANCE}}}[{RATE}]))",
                 "retry {{queue}}"), promql(
                 f"sum by (queue) (rate(llmtap_exporter_dropped_items_total{{{INSTANCE}}}[{RATE}]))",
                 "dropped {{queue}}")))
             .with_panel(series("Export latency p95", "s", promql(
                 f"histogram_quantile(0.95, sum by (le, queue) (rate(llmtap_exporter_send_duration_seconds_bucket"
                 f"{{{INSTANCE}}}[{RATE}])))", "{{queue}}"), width=24)))
    return board.build()

"""otel-collector-config/: each YAML only uses contrib components, every pipeline refers to defined ones (and
connectors both ways), and the settings llmtap depends on are there. The Go Collector cannot run here, so the
component types are checked against the contrib distribution's list (a fact of the current release)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

CONFIGS = sorted((Path(__file__).parent.parent / "otel-collector-config").glob("*.yaml"))

CONTRIB = {
    "receivers": {"otlp", "kafka", "filelog", "hostmetrics", "prometheus", "k8s_cluster"},
    "processors": {"batch", "memory_limiter", "transform", "redaction", "tail_sampling", "attributes", "resource",
                   "filter", "k8sattributes", "resourcedetection", "probabilistic_sampler", "groupbytrace"},
    "exporters": {"otlp", "otlphttp", "loadbalancing", "kafka", "clickhouse", "prometheusremotewrite", "debug",
                  "file"},
    "connectors": {"forward", "spanmetrics", "servicegraph", "routing", "count"},
    "extensions": {"health_check", "pprof", "zpages", "file_storage", "bearertokenauth"},
}


_QUEUE_RETRY = {"sending_queue", "retry_on_failure", "timeout"}
_CLIENT = {"endpoint", "tls", "headers", "compression", "auth", *_QUEUE_RETRY}
_KAFKA_CLIENT = {"brokers", "protocol_version", "client_id", "auth", "tls", "metadata", "rack_id",
                 "resolve_canonical_bootstrap_servers_only", "use_leader_epoch", "traces", "metrics", "logs"}
KEYS = {
    # Top-level settings of each component's Config struct (mapstructure tags) in the contrib release.
    ("receivers", "otlp"): {"protocols"},
    ("receivers", "kafka"): {*_KAFKA_CLIENT, "group_id", "initial_offset", "autocommit", "session_timeout",
                             "heartbeat_interval", "message_marking", "header_extraction", "error_backoff"},
    ("processors", "memory_limiter"): {"check_interval", "limit_mib", "spike_limit_mib", "limit_percentage",
                                       "spike_limit_percentage"},
    ("processors", "batch"): {"send_batch_size", "send_batch_max_size", "timeout", "metadata_keys",
                              "metadata_cardinality_limit"},
    ("processors", "transform"): {"error_mode", "trace_statements", "metric_statements", "log_statements"},
    ("processors", "redaction"): {"allow_all_keys", "allowed_keys", "ignored_keys", "blocked_values",
                                  "blocked_key_patterns", "allowed_values", "hash_function", "summary",
                                  "url_sanitizer", "db_sanitizer"},
    ("processors", "tail_sampling"): {"decision_wait", "num_traces", "expected_new_traces_per_sec", "policies",
                                      "decision_cache", "sample_on_first_match"},
    ("exporters", "loadbalancing"): {"routing_key", "routing_attributes", "protocol", "resolver", *_QUEUE_RETRY},
    ("exporters", "otlp"): {*_CLIENT, "balancer_name", "keepalive", "read_buffer_size", "write_buffer_size"},
    ("exporters", "otlphttp"): {*_CLIENT, "traces_endpoint", "metrics_endpoint", "logs_endpoint", "encoding"},
    ("exporters", "kafka"): {*_KAFKA_CLIENT, *_QUEUE_RETRY, "producer", "profiles", "partition_traces_by_id",
                             "partition_metrics_by_resource_attributes", "partition_logs_by_resource_attributes",
                             "partition_logs_by_trace_id", "topic_from_attribute", "include_metadata_keys"},
    ("exporters", "clickhouse"): {"endpoint", "database", "username", "password", "ttl", "create_schema",
                                  "traces_table_name", "logs_table_name", "metrics_tables", "cluster_name",
                                  "table_engine", "connection_params", "async_insert", "compress", *_QUEUE_RETRY},
    ("exporters", "prometheusremotewrite"): {*_CLIENT, "resource_to_telemetry_conversion", "namespace",
                                             "external_labels", "remote_write_queue", "target_info",
                                             "add_metric_suffixes", "send_metadata"},
    ("connectors", "forward"): set(),
    ("connectors", "spanmetrics"): {"histogram", "dimensions", "exclude_dimensions", "metrics_flush_interval",
                                    "namespace", "exemplars", "dimensions_cache_size", "aggregation_temporality",
                                    "resource_metrics_key_attributes", "events", "metrics_expiration"},
    ("extensions", "health_check"): {"endpoint", "path", "check_collector_pipeline"},
}


def _kind(component_id: str) -> str:
    return component_id.split("/")[0]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_pipelines_use_defined_contrib_components(path: Path) -> None:
    config: dict[str, Any] = yaml.safe_load(path.read_text())
    for section, known in CONTRIB.items():
        for component_id, settings in (config.get(section) or {}).items():
            assert _kind(component_id) in known, f"{section}.{component_id} is not a contrib component"
            unknown = set(settings or {}) - KEYS[(section, _kind(component_id))]
            assert not unknown, f"{section}.{component_id}: unknown settings {unknown}"
    connectors = set(config.get("connectors") or {})
    fed, read = set(), set()
    pipelines = config["service"]["pipelines"]
    assert pipelines
    for name, pipeline in pipelines.items():
        assert _kind(name) in ("traces", "metrics", "logs"), name
        for receiver in pipeline["receivers"]:
            assert receiver in (config.get("receivers") or {}) or receiver in connectors, f"{name}: {receiver}"
            read.add(receiver)
        for processor in pipeline.get("processors", []):
            assert processor in config["processors"], f"{name}: {processor}"
        for exporter in pipeline["exporters"]:
            assert exporter in (config.get("exporters") or {}) or exporter in connectors, f"{name}: {exporter}"
            fed.add(exporter)
    for connector in connectors:
        assert connector in fed and connector in read, f"connector {connector} must be exported to and received from"
    for extension in config["service"].get("extensions", []):
        assert extension in config["extensions"]


def test_trace_routing_keeps_a_trace_on_one_llmtap() -> None:
    for path in CONFIGS:
        config = yaml.safe_load(path.read_text())
        for component_id, settings in (config.get("exporters") or {}).items():
            if _kind(component_id) == "loadbalancing":
                assert settings["routing_key"] == "traceID", path.name
                assert set(settings["resolver"]) & {"k8s", "dns", "static"}, path.name
        for name, pipeline in config["service"]["pipelines"].items():
            if _kind(name) in ("traces", "logs") and "otlp" in pipeline["receivers"] and path.stem != "pure-go":
                assert any(_kind(e) in ("loadbalancing", "kafka") for e in pipeline["exporters"]), (path.name, name)


def test_readme_explains_every_config() -> None:
    readme = (CONFIGS[0].parent / "README.md").read_text()
    for path in CONFIGS:
        assert f"`{path.name}`" in readme

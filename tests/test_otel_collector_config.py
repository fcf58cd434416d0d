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


def _kind(component_id: str) -> str:
    return component_id.split("/")[0]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_pipelines_use_defined_contrib_components(path: Path) -> None:
    config: dict[str, Any] = yaml.safe_load(path.read_text())
    for section, known in CONTRIB.items():
        for component_id in config.get(section) or {}:
            assert _kind(component_id) in known, f"{section}.{component_id} is not a contrib component"
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

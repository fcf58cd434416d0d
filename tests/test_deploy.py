"""deploy/: the Kubernetes manifests validate against the current Kubernetes schema, the compose file refers
only to files that exist and pins every image, the Prometheus config passes promtool with the alert rules,
and the llmtap configs shipped in the image, compose and the ConfigMap pass `llmtap validate`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_kustomization_lists_every_manifest_and_each_validates() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    kinds = set()
    version = kubernetes_validate.latest_version()
    for name in sorted(listed):
        for document in _documents(KUBERNETES / name):
            kubernetes_validate.validate(document, version, strict=True)
            kinds.add(document["kind"])
    assert {"StatefulSet", "Service", "ConfigMap", "Secret", "HorizontalPodAutoscaler", "PodDisruptionBudget",
            "Ingress", "NetworkPolicy"} <= kinds


def test_kubernetes_validation_rejects_a_broken_manifest() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    statefulset = _documents(KUBERNETES / "statefulset.yaml")[0]
    statefulset["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, kubernetes_validate.latest_version(), strict=True)


def test_manifests_agree_with_each_other() -> None:
    statefulset = _documents(KUBERNETES / "statefulset.yaml")[0]
    pod = statefulset["spec"]["template"]
    container = pod["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    labels = pod["metadata"]["labels"]
    for service in _documents(KUBERNETES / "service.yaml"):
        assert service["spec"]["selector"].items() <= labels.items()
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports
    secret_keys = set(_documents(KUBERNETES / "secret.yaml")[0]["stringData"])
    for env in container["env"]:
        assert env["valueFrom"]["secretKeyRef"]["key"] in secret_keys
    hpa = _documents(KUBERNETES / "hpa.yaml")[0]
    assert hpa["spec"]["scaleTargetRef"]["kind"] == statefulset["kind"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == statefulset["metadata"]["name"]
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    config = yaml.safe_load(_documents(KUBERNETES / "configmap.yaml")[0]["data"]["config.yaml"])
    assert config["service"]["data_dir"] in mounted, "the persistent queues must live on the claim"


def _llmtap_validate(text: str, tmp_path: Path, env: dict[str, str] | None = None) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = subprocess.run([sys.executable, "-m", "llmtap.collector.cli", "validate", str(path)],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shipped_llmtap_configs_validate(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "LLMTAP_AUTH_TOKEN": "t", "LLMTAP_CLICKHOUSE_DSN": "http://clickhouse:8123/default"}
    _llmtap_validate((DEPLOY / "stack.yaml").read_text(), tmp_path, env)
    _llmtap_validate(_documents(KUBERNETES / "configmap.yaml")[0]["data"]["config.yaml"], tmp_path, env)


def test_compose_refers_to_files_that_exist_and_pins_images() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    wanted = {"llmtap", "clickhouse", "tempo", "loki", "prometheus", "alertmanager", "grafana", "demo-app"}
    assert wanted <= set(services)
    for name, service in services.items():
        image = service.get("image", "")
        if "build" in service:
            build = service["build"]
            context = (DEPLOY / build["context"]).resolve()
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name
        else:
            assert re.fullmatch(r"[\w./-]+:[\w.-]+", image) and not image.endswith(":latest"), f"{name}: pin {image}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in compose["volumes"], f"{name}: undeclared volume {source}"
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if service["depends_on"][dependency].get("condition") == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
    # what llmtap exports to resolves to compose services
    stack = (DEPLOY / "stack.yaml").read_text()
    for host in re.findall(r"//(?:[^@/]*@)?([a-z-]+):\d+", stack) + re.findall(r'-(tempo):\d+', stack):
        assert host in services, host


def test_dockerfiles_copy_what_exists() -> None:
    for dockerfile, context in ((ROOT / "Dockerfile", ROOT), (DEPLOY / "demo" / "Dockerfile", ROOT)):
        text = dockerfile.read_text()
        assert re.search(r"^USER (?!root)\S+\s*$", text, re.M), f"{dockerfile}: not non-root"
        for line in text.splitlines():
            if line.startswith("COPY") and "--from" not in line:
                for source in line.split()[1:-1]:
                    assert (context / source).exists(), f"{dockerfile}: {source}"
    assert "HEALTHCHECK" in (ROOT / "Dockerfile").read_text()


def test_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    (tmp_path / "rules").mkdir()
    shutil.copy(ROOT / "grafana" / "alerts" / "llmtap-rules.yaml", tmp_path / "rules" / "llmtap-rules.yaml")
    shutil.copy(DEPLOY / "prometheus" / "prometheus.yml", tmp_path / "prometheus.yml")
    result = subprocess.run([promtool, "check", "config", "prometheus.yml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "rules found" in result.stdout


def test_tempo_and_loki_configs_have_what_llmtap_needs() -> None:
    """Neither server can run here: check the parts llmtap depends on."""
    tempo = yaml.safe_load((DEPLOY / "tempo" / "tempo.yaml").read_text())
    assert tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].endswith(":4317")
    assert tempo["server"]["http_listen_port"] == 3200
    loki = yaml.safe_load((DEPLOY / "loki" / "loki.yaml").read_text())
    assert loki["limits_config"]["allow_structured_metadata"] is True  # the push mode's structured metadata
    assert loki["schema_config"]["configs"][-1]["schema"] == "v13" and loki["server"]["http_listen_port"] == 3100

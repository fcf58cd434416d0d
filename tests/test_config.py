"""The YAML config: substitution, typed values, and errors that name the key and the line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from llmtap.collector.config import ConfigError, parse_duration, parse_size
from llmtap.collector.service import parse_config

VALID = """\
receivers:
  otlp:
    protocols:
      http: {endpoint: "127.0.0.1:${env:HTTP_PORT}"}
exporters:
  debug: {verbosity: detailed}
  debug/second: {}
service:
  shutdown_timeout: ${env:DRAIN:-15s}
  pipelines:
    traces: {receivers: [otlp], exporters: [debug, debug/second]}
    logs/app: {receivers: [otlp], exporters: [debug]}
"""


def test_env_substitution_and_defaults() -> None:
    config = parse_config(VALID, "c.yaml", env={"HTTP_PORT": "14318"})
    assert config.receivers["otlp"].protocols.http.endpoint == "127.0.0.1:14318"  # type: ignore[attr-defined]
    assert config.receivers["otlp"].protocols.grpc is None  # type: ignore[attr-defined]
    assert config.service.shutdown_timeout == 15.0
    assert [p.name for p in config.pipelines] == ["traces", "logs/app"]
    assert config.pipelines[0].exporters == ["debug", "debug/second"]


def test_whole_value_reference_is_retyped() -> None:
    text = VALID.replace("${env:DRAIN:-15s}", "${env:DRAIN}")
    config = parse_config(text, "c.yaml", env={"HTTP_PORT": "1", "DRAIN": "7"})
    assert config.service.shutdown_timeout == 7.0


def test_missing_env_names_the_line() -> None:
    with pytest.raises(ConfigError, match=r"c\.yaml:4: receivers\.otlp\.protocols\.http\.endpoint: .*HTTP_PORT"):
        parse_config(VALID, "c.yaml", env={})


def test_dollar_escape() -> None:
    text = VALID.replace("verbosity: detailed", "verbosity: detailed}\n  debug/x: {verbosity: basic")
    text = text.replace('"127.0.0.1:${env:HTTP_PORT}"', '"127.0.0.1:4318"')
    parse_config(text, "c.yaml", env={})
    with pytest.raises(ConfigError, match="verbosity"):
        parse_config(text.replace("verbosity: basic", "verbosity: $$basic"), "c.yaml", env={})


def test_unknown_key_names_key_and_line() -> None:
    text = VALID.replace("debug: {verbosity: detailed}", "debug: {verbosity: detailed, verbosty: 1}")
    with pytest.raises(ConfigError) as err:
        parse_config(text, "c.yaml", env={"HTTP_PORT": "1"})
    assert "c.yaml:6: exporters.debug.verbosty: unknown key" in str(err.value)


def test_wrong_type_and_unknown_component() -> None:
    with pytest.raises(ConfigError, match=r"c\.yaml:9: service\.shutdown_timeout"):
        parse_config(VALID.replace("${env:DRAIN:-15s}", "soon"), "c.yaml", env={"HTTP_PORT": "1"})
    with pytest.raises(ConfigError, match=r"unknown exporter type 'kafka'"):
        parse_config(VALID.replace("debug/second: {}", "kafka: {}"), "c.yaml", env={"HTTP_PORT": "1"})


def test_pipeline_references_are_checked() -> None:
    text = VALID.replace("exporters: [debug, debug/second]", "exporters: [debug, clickhouse]")
    with pytest.raises(ConfigError, match=r"c\.yaml:11: service\.pipelines\.traces\.exporters\.1: 'clickhouse' is not"):
        parse_config(text, "c.yaml", env={"HTTP_PORT": "1"})
    with pytest.raises(ConfigError, match="traces, metrics or logs"):
        parse_config(VALID.replace("logs/app:", "events:"), "c.yaml", env={"HTTP_PORT": "1"})
    with pytest.raises(ConfigError, match="duplicate key"):
        parse_config(VALID + "service: {}\n", "c.yaml", env={"HTTP_PORT": "1"})


def test_units() -> None:
    assert parse_duration("1h30m") == 5400
    assert parse_duration("250ms") == 0.25
    assert parse_duration(3) == 3.0
    with pytest.raises(ValueError):
        parse_duration("3 days")
    assert parse_size("64MiB") == 64 * 2**20
    assert parse_size("1GB") == 10**9
    with pytest.raises(ValueError):
        parse_size("lots")


def test_embedded_default_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmtap.collector.service import load_config

    monkeypatch.setenv("LLMTAP_DATA_DIR", str(tmp_path))
    config = load_config(None)
    assert config.data_dir == tmp_path.resolve()
    assert config.exporters["clickhouse"].dsn == f"chdb://{tmp_path.resolve()}/clickhouse"  # type: ignore[attr-defined]
    assert {p.signal.value for p in config.pipelines} == {"traces", "metrics", "logs"}


def test_validate_command(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(VALID.replace("${env:HTTP_PORT}", "4318"))
    out = subprocess.run([sys.executable, "-m", "llmtap.collector.cli", "validate", str(good)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "traces: otlp -> (no processors) -> debug, debug/second" in out.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID.replace("verbosity: detailed", "verbosity: loud").replace("${env:HTTP_PORT}", "1"))
    out = subprocess.run([sys.executable, "-m", "llmtap.collector.cli", "validate", str(bad)],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert f"{bad}:6: exporters.debug.verbosity" in out.stderr


def test_the_stack_config_is_valid() -> None:
    """deploy/stack.yaml, which feeds ClickHouse, Tempo, Loki and Prometheus at once, validates."""
    from pathlib import Path

    from llmtap.collector.service import load_config

    config = load_config(Path(__file__).parent.parent / "deploy" / "stack.yaml", env={})
    assert set(config.exporters) == {"clickhouse", "tempo", "loki", "prometheus"}
    assert [p.name for p in config.pipelines] == ["traces", "metrics", "logs", "logs/calls"]

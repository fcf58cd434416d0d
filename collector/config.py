"""The collector's YAML configuration, shaped like the OpenTelemetry Collector's.

The file is parsed into plain values while remembering the line of every key, so that an error
names both the key path and the line (`config.yaml:12: exporters.clickhouse.dns: unknown key`).
`${env:NAME}` and `${env:NAME:-default}` are substituted in scalar values; a value that is a single
reference is re-typed (`${env:PORT}` can be an int), as in the Go Collector. `$$` escapes a `$`.
Component configs are pydantic models that forbid unknown keys.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

Path_ = tuple[str | int, ...]

SIGNALS = ("traces", "metrics", "logs")


class ConfigError(Exception):
    """A configuration problem, worded for the person who wrote the file."""


# --------------------------------------------------------------------------------------------
# YAML with line numbers


@dataclass
class Source:
    """Where each key of a parsed config came from, for error messages."""

    filename: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of `path`, or of its closest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def where(self, path: Path_) -> str:
        line = self.line_of(path)
        dotted = ".".join(str(p) for p in path)
        location = f"{self.filename}:{line}" if line else self.filename
        return f"{location}: {dotted}" if dotted else location


def parse_yaml(text: str, filename: str = "<config>") -> tuple[Any, Source]:
    """Parse YAML into plain values plus a `Source` mapping key paths to line numbers."""
    source = Source(filename)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{filename}: not valid YAML: {exc}") from None
    if node is None:
        return {}, source
    constructor = yaml.SafeLoader("")

    def build(n: yaml.Node, path: Path_) -> Any:
        source.lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in n.value:
                key = constructor.construct_object(key_node)
                if not isinstance(key, str):
                    key = str(key)
                child = (*path, key)
                if key in out:
                    raise ConfigError(f"{filename}:{key_node.start_mark.line + 1}: duplicate key {key!r}")
                source.lines[child] = key_node.start_mark.line + 1
                out[key] = build(value_node, child)
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(n.value)]
        return constructor.construct_object(n)

    return build(node, ()), source


# --------------------------------------------------------------------------------------------
# ${env:NAME} substitution

_ENV_REF = re.compile(r"\$\$|\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def substitute_env(value: Any, source: Source, path: Path_ = (), env: dict[str, str] | None = None) -> Any:
    """Replace `${env:NAME}` / `${env:NAME:-default}` in every string scalar of `value`."""
    environ = os.environ if env is None else env
    if isinstance(value, dict):
        return {k: substitute_env(v, source, (*path, k), env) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, source, (*path, i), env) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{source.where(path)}: environment variable {name} is not set (and no :-default)")

    whole = _ENV_REF.fullmatch(value)
    result = _ENV_REF.sub(replace, value)
    if whole and whole.group(0) != "$$":
        # A value that is exactly one reference takes the YAML type of what it expands to.
        try:
            typed = yaml.safe_load(result) if result else result
        except yaml.YAMLError:
            return result
        if isinstance(typed, (int, float, bool)):
            return typed
    return result


# --------------------------------------------------------------------------------------------
# Typed values shared by component configs

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> float:
    """Go-style durations (`250ms`, `5s`, `1h30m`, `720h`) or plain numbers of seconds, as float seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 5s or 720h")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        pos, total = 0, 0.0
        for match in _DURATION.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if text and pos == len(text):
            return total
    raise ValueError(f"{value!r} is not a duration such as 5s, 250ms or 720h")


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written in the config as a Go-style duration."""

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?", re.IGNORECASE)
_SIZE_UNIT = {"": 1, "b": 1, "k": 1000, "kb": 1000, "ki": 1024, "kib": 1024, "m": 10**6, "mb": 10**6,
              "mi": 2**20, "mib": 2**20, "g": 10**9, "gb": 10**9, "gi": 2**30, "gib": 2**30,
              "t": 10**12, "tb": 10**12, "ti": 2**40, "tib": 2**40}


def parse_size(value: Any) -> int:
    """Byte sizes: an integer, or `64MiB`, `1GB`, `512KiB`."""
    if isinstance(value, bool):
        raise ValueError("a size such as 64MiB")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = _SIZE.fullmatch(value.strip())
        if match:
            return int(float(match.group(1)) * _SIZE_UNIT[(match.group(2) or "").lower()])
    raise ValueError(f"{value!r} is not a size such as 64MiB or 1GB")


ByteSize = Annotated[int, BeforeValidator(parse_size)]


class Model(BaseModel):
    """Base of every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def validate_model(model: type[Model], raw: Any, source: Source, path: Path_) -> Model:
    """Validate `raw` against `model`, turning pydantic's errors into ones that name key and line."""
    try:
        return model.model_validate({} if raw is None else raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = (*path, *err["loc"])
            if err["type"] == "extra_forbidden":
                allowed = ", ".join(sorted(model.model_fields)) or "none"
                msg = f"unknown key (allowed here: {allowed})"
            else:
                msg = err["msg"]
            problems.append(f"{source.where(loc)}: {msg}")
        raise ConfigError("\n".join(problems)) from None


# --------------------------------------------------------------------------------------------
# The service section


class PipelineConfig(Model):
    receivers: list[str]
    processors: list[str] = []
    exporters: list[str]


class TelemetryMetricsConfig(Model):
    endpoint: str | None = "127.0.0.1:8888"
    """Where the collector serves its own Prometheus metrics, `/healthz` and `/readyz`; null disables."""


class TelemetryConfig(Model):
    metrics: TelemetryMetricsConfig = TelemetryMetricsConfig()
    logs: dict[str, str] = {}


class ServiceConfig(Model):
    pipelines: dict[str, PipelineConfig]
    telemetry: TelemetryConfig = TelemetryConfig()
    data_dir: str | None = None
    """Where persistent queues and the embedded store live; default `$LLMTAP_DATA_DIR` or `~/.llmtap`."""
    shutdown_timeout: Duration = 30.0
    """How long SIGTERM waits for exporters to drain their queues before leaving the rest on disk."""


def default_data_dir() -> Path:
    return Path(os.environ.get("LLMTAP_DATA_DIR") or Path.home() / ".llmtap").expanduser().resolve()


def split_id(component_id: str) -> tuple[str, str]:
    """`otlp/internal` -> (`otlp`, `internal`); `otlp` -> (`otlp`, ``)."""
    kind, _, name = component_id.partition("/")
    return kind, name


DEFAULT_CONFIG = """\
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:4317"}
      http: {endpoint: "127.0.0.1:4318"}
processors:
  normalize: {}
  redact: {}
  cost: {}
  sample: {}
connectors:
  genai_metrics: {}
exporters:
  clickhouse:
    dsn: "chdb://${data_dir}/clickhouse"
    ttl: 720h
service:
  pipelines:
    traces:     {receivers: [otlp], processors: [normalize, redact, cost, genai_metrics, sample],
                 exporters: [clickhouse]}
    metrics:    {receivers: [otlp, genai_metrics], exporters: [clickhouse]}
    logs:       {receivers: [otlp], processors: [normalize, redact], exporters: [clickhouse]}
    logs/calls: {receivers: [genai_metrics], exporters: [clickhouse]}
  telemetry: {metrics: {endpoint: "127.0.0.1:8888"}}
"""
"""The embedded default. `${data_dir}` is the data directory. `sample: {}` keeps everything; configure a head
ratio or tail policies in a file."""

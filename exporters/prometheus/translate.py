"""OTLP metrics as Prometheus series, the way Prometheus' own OTLP receiver names them: unit and `_total`
suffixes, sanitized label names, `job`/`instance` from the resource and one `target_info` per resource.

Prometheus wants cumulative series. Delta sums and histograms (llmtap's span-derived series are deltas) are
added up here, per series; a series' samples only move forward in time (older or repeated timestamps are
dropped and counted rather than failing the whole write).

The state per series is bounded by time, not kept for ever (label values that appear once, such as ids,
would grow it without end): a series not updated for `stale_after` gets a staleness marker and its running
total is forgotten (it starts again from zero if it comes back, which `rate()` reads as a counter reset, as
with the Collector's deltatocumulative `max_stale`); its last timestamp is kept `LAST_KEPT_MS` longer, so a
late sample cannot be written before the marker."""

from __future__ import annotations

import functools
import math
import re
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from llmtap.collector.attributes import as_text, value_of

Labels = tuple[tuple[str, str], ...]
STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
"""Prometheus' staleness marker."""

LAST_KEPT_MS = 3_600_000
"""How long a stale series' last timestamp is remembered: Prometheus refuses samples older than its head block
(about an hour) anyway."""
_DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
_UNITS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds", "min": "minutes",
          "h": "hours", "d": "days", "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes",
          "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "m": "meters", "V": "volts", "A": "amperes",
          "J": "joules", "W": "watts", "g": "grams", "Cel": "celsius", "Hz": "hertz", "%": "percent"}
_PER = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}
_INVALID_NAME = re.compile(r"[^a-zA-Z0-9_:]+")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]+")
_RESOURCE_IDENTITY = ("service.name", "service.namespace", "service.instance.id")


def metric_name(name: str, unit: str, kind: str) -> str:
    """`kind` is counter, gauge, histogram or summary."""
    base = _INVALID_NAME.sub("_", name).strip("_") or "_"
    unit = re.sub(r"\{[^}]*\}", "", unit).strip()
    suffix = ""
    if unit == "1":
        suffix = "ratio" if kind == "gauge" else ""
    elif "/" in unit:
        top, _, per = unit.partition("/")
        top_name = _UNITS.get(top, _INVALID_LABEL.sub("_", top))
        suffix = f"{top_name}_per_{_PER.get(per, _INVALID_LABEL.sub('_', per))}" if top else ""
    elif unit:
        suffix = _UNITS.get(unit, _INVALID_LABEL.sub("_", unit).strip("_"))
    if suffix and not base.endswith(f"_{suffix}") and base != suffix:
        base = f"{base}_{suffix}"
    if kind == "counter" and not base.endswith("_total"):
        base = f"{base}_total"
    if base[0].isdigit():
        base = f"_{base}"
    return base


@functools.lru_cache(maxsize=4096)
def label_name(key: str) -> str:
    """An attribute key as a Prometheus label name (Loki's labels and structured metadata follow the same
    rule): `gen_ai.request.model` -> `gen_ai_request_model`, `2xx` -> `key_2xx`."""
    name = _INVALID_LABEL.sub("_", key)
    if not name or name[0].isdigit():
        name = f"key_{name}"
    return name


def _attributes(attrs: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for kv in attrs:
        name = label_name(kv.key)
        value = as_text(value_of(kv.value))
        out[name] = f"{out[name]};{value}" if name in out else value  # keys that sanitize alike are joined
    return out


def _created(point: Any, ts_ms: int) -> int | None:
    """When a delta series is new, its start time, for a zero sample there: Prometheus then sees the first
    interval's increase (rate() and increase() need two samples; a series that counts once, such as one user's
    calls to one model, would otherwise never show). Prometheus does the same with created timestamps."""
    start = point.start_time_unix_nano // 1_000_000
    return start if 0 < start < ts_ms else None


def _le(bound: float) -> str:
    """A bound as Prometheus writes it (Go's shortest decimal, no exponent): `2`, `0.5`, `+Inf`."""
    if math.isinf(bound):
        return "+Inf" if bound > 0 else "-Inf"
    if float(bound).is_integer() and abs(bound) < 1e21:
        return str(int(bound))
    text = repr(float(bound))
    return format(Decimal(text), "f") if "e" in text else text


@dataclass
class Family:
    kind: str
    help: str
    unit: str


@dataclass
class Write:
    """What one export sends: samples per series (in time order) and the metric families' metadata, and the
    state it moves the translator to, applied by `Translator.commit` once the write is delivered (a retried
    export translates again from the same state, to the same samples)."""

    series: dict[Labels, list[tuple[int, float]]] = field(default_factory=dict)
    families: dict[str, Family] = field(default_factory=dict)
    dropped: int = 0
    totals: dict[Any, Any] = field(default_factory=dict)
    touched: dict[Any, int] = field(default_factory=dict)
    last: dict[Labels, int] = field(default_factory=dict)
    latest: dict[Labels, tuple[int, float]] = field(default_factory=dict)
    written: dict[Labels, int] = field(default_factory=dict)
    expired: list[Labels] = field(default_factory=list)
    forgotten_totals: list[Any] = field(default_factory=list)
    forgotten_last: list[Labels] = field(default_factory=list)

    def add(self, labels: dict[str, str], ts_ms: int, value: float) -> None:
        self.series.setdefault(tuple(sorted(labels.items())), []).append((ts_ms, value))


class Translator:
    def __init__(self, resource_attributes_as_labels: bool = False):
        self.resource_attributes_as_labels = resource_attributes_as_labels
        self.totals: dict[Any, Any] = {}
        """Running totals of delta series: (name, labels) -> value, or [bucket counts, sum, count]."""
        self.touched: dict[Any, int] = {}
        """When each running total last moved (the collector's clock, ms: a client's skewed clock does not
        make it forgotten early)."""
        self.last: dict[Labels, int] = {}
        """The last timestamp written per series."""
        self.latest: dict[Labels, tuple[int, float]] = {}
        """The latest sample of every series, for the pull endpoint and staleness."""
        self.written: dict[Labels, int] = {}
        """When each series was last written (the collector's clock, ms): staleness goes by it, not by the data's
        own time, so late data (a backlog delivered after an outage) or a client's skewed clock does not make a
        series stale while it is still being written."""
        self.families: dict[str, Family] = {}

    def translate(self, requests: Iterable[Any]) -> Write:
        write = Write()
        for request in requests:
            for rm in request.resource_metrics:
                resource = {kv.key: as_text(value_of(kv.value)) for kv in rm.resource.attributes}
                base = self._identity(resource)
                extra = ({label_name(k): v for k, v in resource.items() if k not in _RESOURCE_IDENTITY}
                         if self.resource_attributes_as_labels else {})
                newest = 0
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        newest = max(newest, self._metric(write, metric, {**extra, **base}))
                info = {k: v for k, v in resource.items() if k not in _RESOURCE_IDENTITY}
                if info and newest:
                    write.families["target_info"] = Family("gauge", "Target metadata", "")
                    write.add({"__name__": "target_info", **{label_name(k): v for k, v in info.items()}, **base},
                              newest, 1.0)
        self._in_order(write)
        return write

    @staticmethod
    def _identity(resource: dict[str, str]) -> dict[str, str]:
        labels = {}
        name, namespace = resource.get("service.name"), resource.get("service.namespace")
        if name:
            labels["job"] = f"{namespace}/{name}" if namespace else name
        if resource.get("service.instance.id"):
            labels["instance"] = resource["service.instance.id"]
        return labels

    def _metric(self, write: Write, metric: Any, base: dict[str, str]) -> int:
        kind_of = metric.WhichOneof("data")
        newest = 0
        if kind_of in ("gauge", "sum"):
            data = getattr(metric, kind_of)
            counter = kind_of == "sum" and data.is_monotonic
            name = metric_name(metric.name, metric.unit, "counter" if counter else "gauge")
            write.families[name] = Family("counter" if counter else "gauge", metric.description, metric.unit)
            delta = kind_of == "sum" and data.aggregation_temporality == _DELTA
            for p in data.data_points:
                labels = {**_attributes(p.attributes), **base, "__name__": name}
                value = float(p.as_int) if p.WhichOneof("value") == "as_int" else p.as_double
                ts = p.time_unix_nano // 1_000_000
                if delta:
                    key = (name, tuple(sorted(labels.items())))
                    previous = write.totals.get(key, self.totals.get(key))
                    start = _created(p, ts) if previous is None else None
                    if start is not None:
                        write.add(labels, start, 0.0)
                    value = write.totals[key] = (previous or 0.0) + value
                write.add(labels, ts, value)
                newest = max(newest, ts)
        elif kind_of == "histogram":
            name = metric_name(metric.name, metric.unit, "histogram")
            write.families[name] = Family("histogram", metric.description, metric.unit)
            delta = metric.histogram.aggregation_temporality == _DELTA
            for p in metric.histogram.data_points:
                bounds = [*p.explicit_bounds, math.inf]
                counts, total, count = list(p.bucket_counts), p.sum, p.count
                labels = {**_attributes(p.attributes), **base}
                if delta:
                    series_key = (name, tuple(sorted(labels.items())), tuple(bounds))
                    state = write.totals.get(series_key, self.totals.get(series_key))
                    start = _created(p, p.time_unix_nano // 1_000_000) if state is None else None
                    if start is not None:
                        self._buckets(write, name, labels, start, bounds, [0] * len(counts), 0.0, 0)
                    if state is not None:
                        counts = [a + b for a, b in zip(state[0], counts, strict=True)]
                        total += state[1]
                        count += state[2]
                    write.totals[series_key] = [counts, total, count]
                newest = max(newest, self._buckets(write, name, labels, p.time_unix_nano // 1_000_000, bounds,
                                                   counts, total, count))
        elif kind_of == "exponential_histogram":
            name = metric_name(metric.name, metric.unit, "histogram")
            write.families[name] = Family("histogram", metric.description, metric.unit)
            for p in metric.exponential_histogram.data_points:
                base_ = 2.0 ** (2.0 ** -p.scale)
                bounds = [0.0] + [base_ ** (p.positive.offset + i + 1) for i in range(len(p.positive.bucket_counts))]
                counts = [sum(p.negative.bucket_counts) + p.zero_count, *p.positive.bucket_counts]
                bounds.append(math.inf)
                counts.append(0)
                labels = {**_attributes(p.attributes), **base}
                newest = max(newest, self._buckets(write, name, labels, p.time_unix_nano // 1_000_000, bounds,
                                                   counts, p.sum, p.count))
        elif kind_of == "summary":
            name = metric_name(metric.name, metric.unit, "summary")
            write.families[name] = Family("summary", metric.description, metric.unit)
            for p in metric.summary.data_points:
                labels = {**_attributes(p.attributes), **base}
                ts = p.time_unix_nano // 1_000_000
                for q in p.quantile_values:
                    write.add({**labels, "__name__": name, "quantile": _le(q.quantile)}, ts, q.value)
                write.add({**labels, "__name__": f"{name}_sum"}, ts, p.sum)
                write.add({**labels, "__name__": f"{name}_count"}, ts, float(p.count))
                newest = max(newest, ts)
        return newest

    @staticmethod
    def _buckets(write: Write, name: str, labels: dict[str, str], ts: int, bounds: list[float], counts: list[int],
                 total: float, count: int) -> int:
        running = 0
        for bound, n in zip(bounds, counts, strict=False):
            running += n
            write.add({**labels, "__name__": f"{name}_bucket", "le": _le(bound)}, ts, float(running))
        write.add({**labels, "__name__": f"{name}_sum"}, ts, total)
        write.add({**labels, "__name__": f"{name}_count"}, ts, float(count))
        return ts

    def _in_order(self, write: Write) -> None:
        """Sort each series' samples and drop any not after the last one written (Prometheus would refuse the
        whole write for one out-of-order sample)."""
        for labels, samples in write.series.items():
            samples.sort()
            last = write.last.get(labels, self.last.get(labels, -1))
            kept = []
            for ts, value in samples:
                if ts > last:
                    kept.append((ts, value))
                    last = ts
                else:
                    write.dropped += 1
            samples[:] = kept
            if kept:
                write.last[labels] = last
                write.latest[labels] = kept[-1]

    def commit(self, write: Write) -> None:
        """The write was delivered: its running totals, timestamps and staleness become the state."""
        self.totals.update(write.totals)
        self.touched.update(write.touched)
        self.last.update(write.last)
        self.latest.update(write.latest)
        self.written.update(write.written)
        for labels in write.expired:
            self.latest.pop(labels, None)
            self.written.pop(labels, None)
        for key in write.forgotten_totals:
            self.totals.pop(key, None)
            self.touched.pop(key, None)
        for labels in write.forgotten_last:
            self.last.pop(labels, None)
        self.families.update(write.families)

    def save(self) -> dict[str, Any]:
        """The running totals and last timestamps, so that a restart continues the counters (no reset)."""
        totals = [{"name": k[0], "labels": [list(p) for p in k[1]], "bounds": list(k[2]) if len(k) > 2 else None,
                   "value": v} for k, v in self.totals.items()]
        return {"totals": totals, "last": [[[list(p) for p in k], v] for k, v in self.last.items()]}

    def load(self, state: dict[str, Any]) -> None:
        for entry in state.get("totals", []):
            labels = tuple((str(k), str(v)) for k, v in entry["labels"])
            bounds = entry.get("bounds")
            key = (entry["name"], labels) if bounds is None else (entry["name"], labels, tuple(bounds))
            self.totals[key] = entry["value"]
            self.touched[key] = int(time.time() * 1000)  # forgotten `stale_after` from now unless it moves
        for labels, ts in state.get("last", []):
            self.last[tuple((str(k), str(v)) for k, v in labels)] = int(ts)

    def stale(self, write: Write, now_ms: int, after_ms: int) -> None:
        """Add staleness markers for series not written for `after_ms`, and forget the running totals not moved
        for as long, and the last timestamps of series stale for `LAST_KEPT_MS`; all once committed."""
        write.written = dict.fromkeys(write.latest, now_ms)
        for labels, written in self.written.items():
            if labels in write.latest or now_ms - written < after_ms:
                continue
            # `after_ms` past its last sample in the data's own time, but not past now (nor before the sample).
            ts = self.latest[labels][0]
            when = max(ts + 1, min(ts + after_ms, now_ms))
            write.series[labels] = [(when, STALE_NAN)]
            write.last[labels] = when
            write.expired.append(labels)
        write.touched = dict.fromkeys(write.totals, now_ms)
        write.forgotten_totals.extend(key for key, ts in self.touched.items()
                                      if now_ms - ts >= after_ms and key not in write.touched)
        write.forgotten_last.extend(labels for labels, ts in self.last.items()
                                    if now_ms - ts >= LAST_KEPT_MS and labels not in self.latest
                                    and labels not in write.last)

"""The `sample` processor: head sampling that agrees with the OpenTelemetry SDK's samplers, tail sampling by
policy, and the genai_metrics accounting that sampling never changes."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Status
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace._sampling_experimental import composable_traceid_ratio_based, composite_sampler
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, Sampler, TraceIdRatioBased

from llmtap import semconv
from llmtap.collector.attributes import pick
from llmtap.collector.config import ConfigError
from llmtap.collector.service import parse_config
from llmtap.collector.signals import Signal
from llmtap.processors.sample import threshold
from llmtap.processors.sample.config import TailConfig
from llmtap.processors.sample.tail import TailSampler
from tests.conftest import Running, free_port, run_service, wait_for
from tests.otlp_data import genai_spans, kv

PB = {"Content-Type": "application/x-protobuf"}


def config(tmp_path: Path, sample: str, before: str = "") -> str:
    """A collector whose traces pipeline runs `before` processors, genai_metrics, then `sample`."""
    procs = [p for p in before.split(",") if p]
    return f"""
receivers:
  otlp: {{protocols: {{http: {{endpoint: "127.0.0.1:{free_port()}"}}}}}}
processors:
  sample: {sample}{"".join(f'''
  {p}: {{}}''' for p in procs)}
connectors:
  genai_metrics: {{}}
exporters:
  memory: {{}}
service:
  data_dir: {tmp_path}
  shutdown_timeout: 2s
  telemetry: {{metrics: {{endpoint: null}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [{", ".join([*procs, "genai_metrics", "sample"])}], exporters: [memory]}}
    metrics: {{receivers: [genai_metrics], exporters: [memory]}}
    logs: {{receivers: [genai_metrics], exporters: [memory]}}
"""


def spans_out(running: Running) -> list[Any]:
    return [span for message in running.exporter().messages(Signal.TRACES)
            for rs in message.resource_spans for ss in rs.scope_spans for span in ss.spans]


def post(running: Running, request: ExportTraceServiceRequest) -> None:
    r = requests.post(f"{running.http}/v1/traces", data=request.SerializeToString(), headers=PB, timeout=10)
    assert r.status_code == 200, r.text


# ------------------------------------------------------------------------------------------------
# Head sampling


def _sdk_spans(endpoint: str, sampler: Sampler, n: int) -> None:
    provider = TracerProvider(sampler=sampler, resource=Resource.create({"service.name": "sampled-app"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    tracer = provider.get_tracer("t")
    for i in range(n):
        with tracer.start_as_current_span(f"root {i}"):
            pass
    provider.shutdown()


@pytest.mark.parametrize(("mode", "sdk", "upstream"), [
    ("traceidratio", TraceIdRatioBased(0.3), None),
    ("proportional", composite_sampler(composable_traceid_ratio_based(0.3)), None),
    ("proportional", composite_sampler(composable_traceid_ratio_based(0.3)), 0.5),
    ("equalizing", composite_sampler(composable_traceid_ratio_based(0.3)), 0.5),
])
def test_head_sampling_keeps_what_the_sdk_would(tmp_path: Path, mode: str, sdk: Sampler,
                                                upstream: float | None) -> None:
    """An SDK exporting every span (or, with `upstream`, sampling itself first) and llmtap at 0.3 keep the same
    traces, and llmtap writes the trace state the SDK's sampler would have written."""
    n = 600
    with run_service(config(tmp_path, f"{{head: {{ratio: 0.3, mode: {mode}}}}}")) as running:
        first = composite_sampler(composable_traceid_ratio_based(upstream)) if upstream else ALWAYS_ON
        _sdk_spans(running.http, first, n)
    kept = spans_out(running)  # the queue drained on shutdown
    assert len({s.trace_id for s in kept}) == len(kept)
    # Overall probability: 0.3, or after an upstream 0.5, 0.15 when multiplied and 0.3 when equalized.
    overall = 0.3 if upstream is None or mode == "equalizing" else 0.15
    reference = sdk if upstream is None else composite_sampler(composable_traceid_ratio_based(overall))
    for span in kept:
        result = reference.should_sample(None, int.from_bytes(span.trace_id, "big"), "x")
        assert result.decision == Decision.RECORD_AND_SAMPLE, f"llmtap kept {span.trace_id.hex()}, the SDK would not"
        if mode != "traceidratio":
            assert result.trace_state is not None
            assert span.trace_state == ",".join(f"{k}={v}" for k, v in result.trace_state.items())
        probability = pick(span.attributes, {semconv.LLMTAP_SAMPLING_PROBABILITY})
        assert probability[semconv.LLMTAP_SAMPLING_PROBABILITY] == pytest.approx(overall)
    # No trace the SDK keeps is missing: the count matches the rate (each id is checked exactly below).
    offered = n if upstream is None else n * upstream
    assert 0.5 * overall * n < len(kept) < 1.6 * overall * n and len(kept) < offered


def test_head_decisions_match_the_sdk_on_every_id() -> None:
    """The rule itself, over 20,000 random ids: no disagreement with either SDK sampler."""
    for ratio in (0.0, 0.001, 0.1, 0.3, 0.5, 0.999, 1.0):
        classic = TraceIdRatioBased(ratio)
        composite = composite_sampler(composable_traceid_ratio_based(ratio))
        for _ in range(20_000 // 7):
            raw = os.urandom(16)
            trace_id = int.from_bytes(raw, "big")
            sdk_keeps = classic.should_sample(None, trace_id, "x").decision == Decision.RECORD_AND_SAMPLE
            assert threshold.trace_id_ratio_keeps(raw, ratio) == sdk_keeps
            ours = threshold.randomness(raw, {}) >= threshold.threshold_for(ratio)
            assert ours == (composite.should_sample(None, trace_id, "x").decision == Decision.RECORD_AND_SAMPLE)


# ------------------------------------------------------------------------------------------------
# Tail sampling


def _trace(request: ExportTraceServiceRequest, trace_id: bytes, spans: int, *, error: bool = False,
           seconds: float = 1.0, cost: float = 0.0, tokens: int = 0, tenant: str = "") -> None:
    ss = request.resource_spans[0].scope_spans[0]
    start = 1_700_000_000_000_000_000
    for i in range(spans):
        span = ss.spans.add(trace_id=trace_id, span_id=os.urandom(8), name=f"step {i}",
                            start_time_unix_nano=start, end_time_unix_nano=start + int(seconds * 1e9))
        if error and i == spans - 1:
            span.status.code = Status.STATUS_CODE_ERROR
        if cost:
            span.attributes.append(kv(semconv.LLMTAP_COST_USD, cost / spans))
        if tokens:
            span.attributes.extend([kv("gen_ai.usage.input_tokens", tokens // spans),
                                    kv("gen_ai.usage.output_tokens", 0)])
        if tenant:
            span.attributes.append(kv(semconv.LLMTAP_TENANT_ID, tenant))


def _request() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.append(kv("service.name", "agent"))
    rs.scope_spans.add().scope.name = "s"
    return request


TAIL = """{tail: {decision_wait: 300ms, policies: [
  {name: errors, type: errors}, {name: slow, type: latency, threshold: 5s},
  {name: pricey, type: cost, threshold_usd: 0.05}, {name: big, type: tokens, threshold_tokens: 10000},
  {name: vip, type: attribute, key: llmtap.tenant.id, values: [vip]},
  {name: rest, type: probabilistic, ratio: 0.25}]}}"""


def test_tail_keeps_traces_by_policy_and_a_consistent_share_of_the_rest(tmp_path: Path) -> None:
    ids = {kind: [os.urandom(16) for _ in range(count)] for kind, count in
           (("error", 3), ("slow", 3), ("pricey", 3), ("big", 3), ("vip", 3), ("plain", 200))}
    shapes: dict[str, dict[str, Any]] = {"error": {"error": True}, "slow": {"seconds": 6.0},
                                         "pricey": {"cost": 0.06}, "big": {"tokens": 12_000},
                                         "vip": {"tenant": "vip"}, "plain": {}}
    first, second = _request(), _request()
    for kind, trace_ids in ids.items():
        for trace_id in trace_ids:
            _trace(first, trace_id, 2, **shapes[kind])
            _trace(second, trace_id, 1)  # the rest of the trace arrives in a later request
    with run_service(config(tmp_path, TAIL)) as running:
        post(running, first)
        post(running, first)  # a retried request: its spans are held once
        post(running, second)
        wait_for(lambda: len(spans_out(running)) >= 15 * 3)
        wait_for(lambda: not running.service.processors[("traces", "sample")].tail.held)  # type: ignore[attr-defined]
        kept_before = {s.trace_id for s in spans_out(running)}
        late, late_dropped = _request(), _request()
        _trace(late, ids["error"][0], 1)
        plain_dropped = next(t for t in ids["plain"] if t not in kept_before)
        _trace(late_dropped, plain_dropped, 1)
        post(running, late)
        post(running, late_dropped)
        wait_for(lambda: sum(1 for s in spans_out(running) if s.trace_id == ids["error"][0]) == 4)
    out = spans_out(running)
    per_trace = Counter(s.trace_id for s in out)
    for kind in ("error", "slow", "pricey", "big", "vip"):
        for trace_id in ids[kind]:
            expected = 4 if trace_id == ids["error"][0] else 3
            assert per_trace[trace_id] == expected, (kind, per_trace[trace_id])
    for span in out:
        found = pick(span.attributes, {semconv.LLMTAP_SAMPLING_POLICY, semconv.LLMTAP_SAMPLING_PROBABILITY})
        kind = next(k for k, v in ids.items() if span.trace_id in v)
        policy = {"error": "errors", "slow": "slow", "pricey": "pricey", "big": "big", "vip": "vip",
                  "plain": "rest"}[kind]
        assert found[semconv.LLMTAP_SAMPLING_POLICY] == policy
        assert found[semconv.LLMTAP_SAMPLING_PROBABILITY] == (0.25 if kind == "plain" else 1.0)
        if kind == "plain":
            assert span.trace_state == f"ot=th:{threshold.encode(threshold.threshold_for(0.25))}"
    kept_plain = {t for t in ids["plain"] if per_trace[t]}
    expected_plain = {t for t in ids["plain"] if threshold.randomness(t, {}) >= threshold.threshold_for(0.25)}
    assert kept_plain == expected_plain and all(per_trace[t] == 3 for t in kept_plain)
    assert plain_dropped not in per_trace


def test_tail_max_traces_decides_early_and_shutdown_releases_the_rest(tmp_path: Path) -> None:
    sample = "{tail: {decision_wait: 1h, max_traces: 10, policies: [{name: all, type: probabilistic, ratio: 1.0}]}}"
    request = _request()
    ids = [os.urandom(16) for _ in range(25)]
    for trace_id in ids:
        _trace(request, trace_id, 2)
    with run_service(config(tmp_path, sample)) as running:
        post(running, request)
        wait_for(lambda: len(spans_out(running)) == 30)  # 15 traces over the limit, decided at once
        telemetry = running.service.telemetry.registry
        assert telemetry.get_sample_value("llmtap_processor_tail_traces_total",
                                          {"processor": "sample", "outcome": "evicted"}) == 15
        assert {s.trace_id for s in spans_out(running)} == set(ids[:15]), "the oldest go first"
    # shutdown decided the ten still held and the queue drained them
    assert Counter(s.trace_id for s in spans_out(running)) == dict.fromkeys(ids, 2)


def test_tail_rate_limit_counts_spans_per_second() -> None:
    now = [100.0]
    sampler = TailSampler(TailConfig.model_validate(
        {"decision_wait": 1, "policies": [{"name": "cap", "type": "rate_limiting", "spans_per_second": 5}]}),
        clock=lambda: now[0])
    request = _request()
    for _ in range(6):
        _trace(request, os.urandom(16), 2)
    rs = request.resource_spans[0]
    for span in rs.scope_spans[0].spans:
        sampler.hold(span.trace_id, (b"r", b"s"), span, {}, rs, rs.scope_spans[0])
    now[0] += 1.5
    due = sampler.due()
    decisions = [sampler.decide(trace_id, trace).keep for trace_id, trace in due]
    assert decisions == [True, True, False, False, False, False]  # two traces of 2 spans fit in 5 per second
    assert sampler.origins
    for _, trace in due:
        sampler.forget(trace)
    assert not sampler.origins, "decided traces release their resource and scope copies"


# ------------------------------------------------------------------------------------------------
# Accounting before sampling


def _totals(running: Running) -> dict[str, float]:
    totals: Counter[str] = Counter()
    for message in running.exporter().messages(Signal.METRICS):
        for rm in message.resource_metrics:
            for metric in rm.scope_metrics[0].metrics:
                if metric.HasField("sum"):
                    for p in metric.sum.data_points:
                        kind = {a.key: a.value.string_value for a in p.attributes}.get("gen_ai.token.type", "")
                        totals[f"{metric.name}/{kind}"] += p.as_int or p.as_double
                else:
                    totals[f"{metric.name}/count"] += sum(p.count for p in metric.histogram.data_points)
    totals["calls"] = running.exporter().items(Signal.LOGS)
    return {k: round(v, 9) for k, v in totals.items()}


def test_sampling_does_not_change_the_accounting(tmp_path: Path) -> None:
    requests_ = [genai_spans(100, seed=i, service=f"svc-{i % 2}") for i in range(4)]
    results = {}
    for name, sample in (("unsampled", "{}"), ("head", "{head: {ratio: 0.2}}"),
                         ("tail", "{tail: {decision_wait: 100ms, policies: [{name: r, type: probabilistic, "
                                  "ratio: 0.1}]}}")):
        with run_service(config(tmp_path / name, sample, before="cost")) as running:
            for request in requests_:
                post(running, request)
            wait_for(lambda running=running: running.exporter().items(Signal.LOGS) == 400)
        results[name] = (_totals(running), len(spans_out(running)))
    unsampled, spans_unsampled = results["unsampled"]
    assert spans_unsampled == 400 and unsampled["calls"] == 400 and unsampled["llmtap.requests/"] == 400
    assert unsampled["llmtap.tokens/input"] == sum(
        kv_.value.int_value for r in requests_ for s in r.resource_spans[0].scope_spans[0].spans for kv_ in s.attributes
        if kv_.key == "gen_ai.usage.input_tokens")
    assert unsampled["llmtap.cost.usd/input"] > 0 and unsampled["llmtap.request.duration/count"] == 400
    for name in ("head", "tail"):
        totals, spans = results[name]
        assert spans < 200, f"{name} sampling kept {spans} of 400 spans"
        assert totals == unsampled, name


# ------------------------------------------------------------------------------------------------
# Configuration


@pytest.mark.parametrize(("sample", "message"), [
    ("{tail: {policies: [{name: x, type: latency}]}}", "needs threshold"),
    ("{tail: {policies: []}}", "at least 1"),
    ("{head: {ratio: 1.5}}", "less than or equal to 1"),
    ("{tail: {policies: [{name: x, type: attribute, key: k, pattern: '('}]}}", "not a regular expression"),
])
def test_sample_config_errors(tmp_path: Path, sample: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(config(tmp_path, sample))


@pytest.mark.parametrize(("change", "message"), [
    (("    metrics: {receivers: [genai_metrics], exporters: [memory]}\n    logs: {receivers: [genai_metrics], "
      "exporters: [memory]}\n", ""), "must also be listed among the receivers"),
    (("processors: [genai_metrics, sample]", "processors: [sample]"), "among the processors of a pipeline"),
    (("metrics: {receivers: [genai_metrics]", "metrics: {receivers: [otlp]"), ""),
    (("logs: {receivers: [genai_metrics], exporters: [memory]}",
      "logs: {receivers: [genai_metrics], processors: [genai_metrics], exporters: [memory]}"), "does not take logs"),
])
def test_connector_config_errors(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = config(tmp_path, "{}").replace(*change)
    if not message:
        parse_config(text)  # fine: the connector still feeds the logs pipeline
        return
    with pytest.raises(ConfigError, match=message):
        parse_config(text)

"""The genai_metrics connector on crafted requests: series, labels, caps, histograms and llm_call records."""

from __future__ import annotations

import json
import math
import os
import re
import shlex
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from llmtap import semconv
from llmtap.collector import wire
from llmtap.collector.attributes import as_text, set_value, value_of
from llmtap.collector.signals import Batch, Signal
from llmtap.processors.genai_metrics import GenAIMetricsConfig, GenAIMetricsConnector
from llmtap.processors.genai_metrics import connector as connector_module
from llmtap.processors.genai_metrics.calls import summary_line
from llmtap.processors.genai_metrics.cardinality import TopValues
from tests.otlp_data import kv

START = 1_700_000_000_000_000_000


def _request(*spans: dict[str, Any], service: str = "bot") -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.append(kv("service.name", service))
    ss = rs.scope_spans.add()
    for spec in spans:
        spec = dict(spec)
        seconds = spec.pop("seconds", 1.0)
        error = spec.pop("error", False)
        span = ss.spans.add(trace_id=os.urandom(16), span_id=os.urandom(8), name="x",
                            start_time_unix_nano=START, end_time_unix_nano=START + int(seconds * 1e9))
        if error:
            span.status.code = Status.STATUS_CODE_ERROR
        span.attributes.extend(kv(k, v) for k, v in spec.items())
    return request


def _chat(model: str = "gpt-4o", **extra: Any) -> dict[str, Any]:
    return {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20, **extra}


def _derive(connector: GenAIMetricsConnector, request: ExportTraceServiceRequest) -> list[Batch]:
    """What the connector emits for one accepted request: its records, then a flush of its series."""
    derived = connector.derive(Batch(Signal.TRACES, request))
    assert derived.commit is not None
    derived.commit()
    flushed = connector.flush()
    assert flushed is not None
    return [*derived.batches, flushed]


def _points(batches: list[Batch], name: str) -> list[tuple[dict[str, str], Any]]:
    metrics = next(b for b in batches if b.signal is Signal.METRICS).message
    out = []
    for rm in metrics.resource_metrics:  # type: ignore[union-attr]
        service = {a.key: a.value.string_value for a in rm.resource.attributes}["service.name"]
        for metric in rm.scope_metrics[0].metrics:
            if metric.name == name:
                data = metric.sum if metric.HasField("sum") else metric.histogram
                for p in data.data_points:
                    labels = {a.key: a.value.string_value for a in p.attributes}
                    out.append(({**labels, "service.name": service}, p))
    return out


def _records(batches: list[Batch]) -> list[Any]:
    logs = next(b for b in batches if b.signal is Signal.LOGS).message
    return [r for rl in logs.resource_logs for sl in rl.scope_logs for r in sl.log_records]  # type: ignore[union-attr]


def test_series_labels_histograms_and_error_types() -> None:
    connector = GenAIMetricsConnector("genai_metrics", GenAIMetricsConfig())
    out = _derive(connector, _request(
        _chat(seconds=0.1), _chat(seconds=0.3), _chat(seconds=700.0, **{"error.type": "timeout"}),
        _chat(error=True), _chat("claude", **{"gen_ai.response.time_to_first_chunk": 0.42}),
        {"http.route": "/not/genai"}))
    requests_ = {(labels.get("gen_ai.request.model"), labels.get("error.type", "")): p.as_int
                 for labels, p in _points(out, semconv.LLMTAP_REQUESTS)}
    assert requests_ == {("gpt-4o", ""): 2, ("gpt-4o", "timeout"): 1, ("gpt-4o", "_OTHER"): 1, ("claude", ""): 1}
    durations = {labels.get("error.type", ""): p for labels, p in _points(out, semconv.LLMTAP_REQUEST_DURATION)
                 if labels["gen_ai.request.model"] == "gpt-4o"}
    ok = durations[""]
    assert ok.count == 2 and list(ok.bucket_counts)[:3] == [1, 0, 1], "0.1 s is in (.., 0.1], 0.3 s in (0.25, 0.5]"
    assert list(ok.explicit_bounds)[-1] == 600.0 and durations["timeout"].bucket_counts[-1] == 1
    assert abs(ok.sum - 0.4) < 1e-9 and ok.min == 0.1 and ok.max == 0.3
    ttft = _points(out, semconv.LLMTAP_TIME_TO_FIRST_TOKEN)
    assert [(labels["gen_ai.request.model"], p.count, p.sum) for labels, p in ttft] == [("claude", 1, 0.42)]
    tokens = sum(p.as_int for labels, p in _points(out, semconv.LLMTAP_TOKENS)
                 if labels["gen_ai.token.type"] == "input")
    assert tokens == 500
    assert len(_records(out)) == 5, "one record per GenAI span; the HTTP span has none"
    # The next flush's points start where these ended: contiguous delta intervals.
    first_end = _points(out, semconv.LLMTAP_REQUESTS)[0][1].time_unix_nano
    again = _derive(connector, _request(_chat()))
    assert _points(again, semconv.LLMTAP_REQUESTS)[0][1].start_time_unix_nano == first_end


def test_cost_parts_and_cache_savings_are_series() -> None:
    connector = GenAIMetricsConnector("g", GenAIMetricsConfig())
    out = _derive(connector, _request(
        _chat("gpt-4o", **{semconv.LLMTAP_COST_INPUT_USD: 0.25, semconv.LLMTAP_COST_CACHE_READ_USD: 0.02,
                           semconv.LLMTAP_COST_CACHE_SAVINGS_USD: 0.18}),
        _chat("gpt-4o", **{semconv.LLMTAP_COST_INPUT_USD: 0.5, semconv.LLMTAP_COST_CACHE_SAVINGS_USD: 0.5}),
        _chat("no-cache", **{semconv.LLMTAP_COST_INPUT_USD: 1.0})))
    cost = {(labels["gen_ai.request.model"], labels["gen_ai.token.type"]): p.as_double
            for labels, p in _points(out, semconv.LLMTAP_COST)}
    assert cost == {("gpt-4o", "input"): 0.75, ("gpt-4o", "cache_read"): 0.02, ("no-cache", "input"): 1.0}
    savings = {labels["gen_ai.request.model"]: p.as_double
               for labels, p in _points(out, semconv.LLMTAP_COST_CACHE_SAVINGS)}
    assert savings == {"gpt-4o": pytest.approx(0.68)}, "a model without savings has no series"


def test_counts_add_up_across_requests_and_only_for_committed_ones() -> None:
    connector = GenAIMetricsConnector("g", GenAIMetricsConfig())
    for seconds in (0.2, 0.4, 0.6):
        derived = connector.derive(Batch(Signal.TRACES, _request(_chat(seconds=seconds))))
        assert derived.commit is not None
        derived.commit()
    refused = connector.derive(Batch(Signal.TRACES, _request(_chat(), _chat())))  # never queued: not counted
    assert refused.commit is not None and len(_records(refused.batches)) == 2
    flushed = connector.flush()
    assert flushed is not None and connector.flush() is None, "a flush empties the totals"
    [(_, requests_)] = _points([flushed], semconv.LLMTAP_REQUESTS)
    [(_, duration)] = _points([flushed], semconv.LLMTAP_REQUEST_DURATION)
    assert requests_.as_int == 3 and duration.count == 3 and abs(duration.sum - 1.2) < 1e-9
    assert duration.min == 0.2 and duration.max == 0.6 and sum(duration.bucket_counts) == 3



def test_sums_are_the_same_whenever_pending_spans_are_folded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spans wait, per label values, until the flush or `_FOLD_AT` of them; where the fold falls changes no sum."""
    spans = [_chat(model, seconds=seconds, **{"gen_ai.response.time_to_first_chunk": seconds / 4,
                                             semconv.LLMTAP_COST_INPUT_USD: seconds / 100})
             for model, seconds in (("a", 0.3), ("b", 2.5), ("a", 7.0), ("a", 0.05), ("b", 31.0), ("a", 0.3))]

    def flushed(fold_at: int) -> dict[tuple[str, str, str | None], Any]:
        monkeypatch.setattr(connector_module, "_FOLD_AT", fold_at)
        connector = GenAIMetricsConnector("g", GenAIMetricsConfig())
        for i in range(0, len(spans), 2):
            derived = connector.derive(Batch(Signal.TRACES, _request(*spans[i:i + 2])))
            assert derived.commit is not None
            derived.commit()
            if fold_at == 1:
                assert not connector._pending, "folded at the commit"
        batch = connector.flush()
        assert batch is not None
        out: dict[tuple[str, str, str | None], Any] = {}
        for name in (semconv.LLMTAP_REQUESTS, semconv.LLMTAP_TOKENS, semconv.LLMTAP_COST,
                     semconv.LLMTAP_REQUEST_DURATION, semconv.LLMTAP_TIME_TO_FIRST_TOKEN):
            for labels, p in _points([batch], name):
                key = (name, labels["gen_ai.request.model"], labels.get("gen_ai.token.type"))
                histogram = name in (semconv.LLMTAP_REQUEST_DURATION, semconv.LLMTAP_TIME_TO_FIRST_TOKEN)
                out[key] = ((p.count, round(p.sum, 9), p.min, p.max, list(p.bucket_counts)) if histogram
                            else p.as_int or p.as_double)
        return out

    once, every_commit = flushed(10_000), flushed(1)
    assert once == every_commit
    assert once[(semconv.LLMTAP_REQUESTS, "a", None)] == 4
    assert once[(semconv.LLMTAP_TOKENS, "b", "output")] == 40
    assert once[(semconv.LLMTAP_COST, "a", "input")] == pytest.approx(0.0765)
    count, total, low, high, buckets = once[(semconv.LLMTAP_REQUEST_DURATION, "a", None)]
    assert (count, total, low, high) == (4, 7.65, 0.05, 7.0) and buckets[:3] == [1, 0, 2] and buckets[7] == 1
    assert once[(semconv.LLMTAP_TIME_TO_FIRST_TOKEN, "b", None)][:2] == (2, 8.375)


def test_array_and_map_label_values_are_labelled_by_their_json() -> None:
    connector = GenAIMetricsConnector("g", GenAIMetricsConfig())
    array: dict[str, Any] = {"gen_ai.provider.name": ["openai", "azure"]}
    out = _derive(connector, _request(_chat(**array),
                                      _chat(**{"gen_ai.provider.name": "openai"})))
    requests_ = {labels["gen_ai.provider.name"]: p.as_int for labels, p in _points(out, semconv.LLMTAP_REQUESTS)}
    assert requests_ == {'["openai","azure"]': 1, "openai": 1}

def test_user_and_tenant_labels_are_capped_without_losing_counts() -> None:
    now = [0.0]
    connector = GenAIMetricsConnector("g", GenAIMetricsConfig.model_validate(
        {"users": {"top": 2}, "tenants": {"enabled": False}, "cardinality_window": 60}), clock=lambda: now[0])
    spans = [_chat(**{"user.id": u, "llmtap.tenant.id": "acme"}) for u in ("a", "b", "c", "c", "c", "a")]
    out = _derive(connector, _request(*spans))
    counts = {labels.get("user.id"): p.as_int for labels, p in _points(out, semconv.LLMTAP_REQUESTS)}
    assert counts == {"a": 2, "b": 1, semconv.LLMTAP_OTHER: 3}, "first come while the window is young"
    assert all("llmtap.tenant.id" not in labels for labels, _ in _points(out, semconv.LLMTAP_REQUESTS))
    now[0] = 61.0  # the next window admits the two most frequent of the last one: c and a
    out = _derive(connector, _request(*spans))
    counts = {labels.get("user.id"): p.as_int for labels, p in _points(out, semconv.LLMTAP_REQUESTS)}
    assert counts == {"a": 2, "c": 3, semconv.LLMTAP_OTHER: 1}


def test_top_values_stay_bounded() -> None:
    now = [0.0]
    top = TopValues(top=3, window=10, clock=lambda: now[0])
    labels = [top.label(f"user-{i % 500}") for i in range(1000)]
    assert labels[:3] == ["user-0", "user-1", "user-2"] and set(labels[3:]) - {"user-0", "user-1", "user-2"} == {
        semconv.LLMTAP_OTHER}
    assert len(top.counts) <= 30 and top.label("") == ""
    top.roll()
    assert top.label("user-499") == semconv.LLMTAP_OTHER, "the window has not ended"
    kept = dict(top.counts)
    now[0] = 10.0
    top.roll()
    assert len(top.admitted) == 3 and top.admitted <= set(kept) and not top.counts, "the last window's top 3"
    assert min(kept[v] for v in top.admitted) >= max(n for v, n in kept.items() if v not in top.admitted)


def _logfmt(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in shlex.split(line))


def test_llm_call_records_carry_the_row_and_render_a_logfmt_line() -> None:
    messages = [{"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
                {"role": "user", "parts": [{"type": "text", "content": "first question"}]},
                {"role": "assistant", "parts": [{"type": "text", "content": "an answer"}]},
                {"role": "user", "parts": [{"type": "tool_call_response", "response": "{}"},
                                           {"type": "text", "content": "and now: " + "x" * 300}]}]
    output = [{"role": "assistant", "parts": [{"type": "reasoning", "content": "hmm"},
                                              {"type": "text", "content": 'say "hi" = ok'}]}]
    connector = GenAIMetricsConnector("g", GenAIMetricsConfig())
    out = _derive(connector, _request(
        _chat("gpt-4o", **{"gen_ai.input.messages": json.dumps(messages), "gen_ai.output.messages": json.dumps(output),
                           "gen_ai.response.finish_reasons": ["stop"], "session.id": "s-1",
                           semconv.LLMTAP_COST_USD: 0.0012, "gen_ai.usage.cache_read.input_tokens": 40}),
        _chat(error=True, **{"gen_ai.input.messages": "not json at all", "gen_ai.conversation.id": "conv-9"})))
    ok, failed = _records(out)
    attrs = {kv_.key: value_of(kv_.value) for kv_ in ok.attributes}
    assert ok.event_name == semconv.LLMTAP_LLM_CALL_EVENT and ok.time_unix_nano == START
    assert attrs[semconv.LLMTAP_PREVIEW_INPUT] == ("and now: " + "x" * 300)[:200]
    assert attrs[semconv.LLMTAP_PREVIEW_OUTPUT] == 'say "hi" = ok'
    assert attrs["gen_ai.usage.input_tokens"] == 100 and attrs["gen_ai.usage.cache_read.input_tokens"] == 40
    assert attrs[semconv.LLMTAP_CALL_DURATION] == 1.0 and attrs["otel.status_code"] == "UNSET"
    assert attrs["session.id"] == "s-1" and attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert not ok.HasField("body")
    line = _logfmt(summary_line(attrs))
    assert line == {"operation": "chat", "provider": "openai", "model": "gpt-4o", "input_tokens": "100",
                    "output_tokens": "20", "cost_usd": "0.0012", "duration_s": "1", "finish_reason": "stop"}
    failed_attrs = {kv_.key: value_of(kv_.value) for kv_ in failed.attributes}
    assert failed.severity_text == "ERROR" and failed_attrs["error.type"] == "_OTHER"
    assert failed_attrs[semconv.LLMTAP_PREVIEW_INPUT] == "not json at all"
    assert failed_attrs["session.id"] == "conv-9", "the conversation id stands in for a session"
    assert re.search(r"\berror_type=_OTHER\b", summary_line(failed_attrs))


def test_records_keep_ids_of_any_length() -> None:
    request = _request(_chat(), _chat())
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[1].span_id = b""  # not a valid span: the record still says what it was sent
    out = _derive(GenAIMetricsConnector("g", GenAIMetricsConfig()), request)
    records = _records(out)
    assert [(r.trace_id, r.span_id, r.flags) for r in records] == [(s.trace_id, s.span_id, s.flags) for s in spans]
    assert records[0].time_unix_nano == records[1].time_unix_nano == START
    assert records[0].observed_time_unix_nano == records[1].observed_time_unix_nano > START


def test_the_summing_outside_derive_is_counted_as_the_connectors_cpu(tmp_path: Any) -> None:
    """Commits and flushes run outside `derive`, where the service measures a connector: it counts them itself."""
    import asyncio

    from llmtap.collector.component import Host
    from llmtap.collector.telemetry import SelfTelemetry

    telemetry = SelfTelemetry()
    connector = GenAIMetricsConnector("genai_metrics", GenAIMetricsConfig())

    def cpu() -> float:
        value = telemetry.registry.get_sample_value("llmtap_processor_cpu_seconds_total",
                                                    {"processor": "genai_metrics"})
        return value or 0.0

    async def run() -> None:
        await connector.start(Host(tmp_path, telemetry))
        derived = connector.derive(Batch(Signal.TRACES, _request(*[_chat(seconds=i / 10) for i in range(200)])))
        assert cpu() == 0.0 and derived.commit is not None
        derived.commit()
        committed = cpu()
        assert committed > 0.0
        assert connector.flush() is not None and cpu() > committed
        await connector.shutdown()

    asyncio.run(run())


# -- the records and counts made in C (wire.scan_calls), against the protobuf runtime and the rules --------

_MESSAGES = st.sampled_from([
    '[{"role":"user","parts":[{"type":"text","content":"hi \\u00e9 \\ud83d\\ude00"}]}]',
    '[{"role":"system","content":"be brief"},{"role":"user","content":"' + "x" * 300 + '"}]',
    '[{"role":"assistant","parts":[{"type":"tool_call","id":"1"}]}]', "[]", '{"role":"user"}', "not json", ""])
_VALUES = st.one_of(
    st.none(), st.text(max_size=8), st.sampled_from(["42", " 7 ", "1e3", "inf", "-inf", "nan", "12abc", "chat"]),
    st.integers(-(2**63), 2**63 - 1), st.floats(), st.booleans(), st.lists(st.text(max_size=3), max_size=2),
    _MESSAGES)
_KEYS = st.sampled_from([*connector_module._ROLES, *connector_module._COPIED, "http.route"])


def _count(value: Any) -> int:
    """A token count as the rules read it: ints, floats truncated, numeric strings; anything else 0."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return 0
    number: int | float = value if not isinstance(value, str) else 0.0
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return 0
    if isinstance(number, float):
        number = int(number) if math.isfinite(number) and number >= 1 else 0
    return min(max(number, 0), 2**50)


def _expected_record(span: Any, limit: int) -> dict[str, Any] | None:
    """What the record of `span` holds, read through the protobuf runtime; None if it is no GenAI span."""
    found = {kv_.key: value_of(kv_.value) for kv_ in span.attributes}
    if not found.get("gen_ai.operation.name"):
        return None
    copied = {k: v for k, v in found.items() if k in connector_module._COPIED}  # as they are, unset too
    attrs: dict[str, Any] = {}
    error = found.get("error.type")
    error_type = "" if error is None else as_text(error)
    if not error_type and span.status.code == Status.STATUS_CODE_ERROR:
        error_type = "_OTHER"
    attrs[semconv.LLMTAP_CALL_DURATION] = max(span.end_time_unix_nano - span.start_time_unix_nano, 0) / 1e9
    attrs["otel.status_code"] = {1: "OK", 2: "ERROR"}.get(span.status.code, "UNSET")
    if "gen_ai.usage.input_tokens" in found or "gen_ai.usage.output_tokens" in found:
        keys = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens",
                "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.reasoning.output_tokens")
        n = [_count(found.get(k)) for k in keys]
        n[0] = n[0] + n[2] + n[3] if n[2] + n[3] > n[0] else n[0]
        n[1] = max(n[1], n[4])
        attrs.update((k, c) for i, (k, c) in enumerate(zip(keys, n, strict=True)) if c or i < 2)
    if error_type and "error.type" not in found:
        attrs["error.type"] = error_type
    if "session.id" not in found and "gen_ai.conversation.id" in found:
        attrs["session.id"] = as_text(found["gen_ai.conversation.id"])
    for key, name, last_user in (("gen_ai.input.messages", semconv.LLMTAP_PREVIEW_INPUT, True),
                                 ("gen_ai.output.messages", semconv.LLMTAP_PREVIEW_OUTPUT, False)):
        value = found.get(key)
        if key in found:
            text = wire.message_preview(value, limit, last_user) if isinstance(value, str) else ""
            attrs[name] = value[:limit] if text is None and isinstance(value, str) else text
    return {"attributes": {**copied, **{k: v for k, v in attrs.items() if v != ""}}, "error": bool(error_type)}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.lists(st.tuples(_KEYS, _VALUES), max_size=12), st.sampled_from([0, 1, 2]),
                          st.sampled_from([16, 0, 5]), st.integers(-2, 10**12)), min_size=1, max_size=6),
       st.sampled_from([200, 7, 0]))
def test_records_and_token_counts_are_what_the_span_says(spans: list[Any], limit: int) -> None:
    request = _request()
    ss = request.resource_spans[0].scope_spans[0]
    for attrs, status, id_length, nanos in spans:
        span = ss.spans.add(trace_id=os.urandom(id_length), span_id=os.urandom(8), flags=0x301,
                            start_time_unix_nano=START, end_time_unix_nano=START + nanos)
        span.status.code = status
        for key, value in attrs:
            kv_ = span.attributes.add(key=key)
            if value is not None:
                set_value(kv_.value, value)
    connector = GenAIMetricsConnector("g", GenAIMetricsConfig(preview_chars=limit))
    derived = connector.derive(Batch(Signal.TRACES, request))
    expected = [e for e in (_expected_record(s, limit) for s in ss.spans) if e is not None]
    records = _records(derived.batches) if expected else []
    def comparable(attrs: dict[str, Any]) -> list[tuple[str, str]]:  # NaN equals NaN here
        return sorted((k, repr(v)) for k, v in attrs.items())

    assert [comparable({kv_.key: value_of(kv_.value) for kv_ in r.attributes}) for r in records] == [
        comparable(e["attributes"]) for e in expected]
    calls = [s for s in ss.spans if _expected_record(s, limit) is not None]
    assert [(r.trace_id, r.span_id, r.flags, r.time_unix_nano, r.severity_text, r.event_name) for r in records] == [
        (s.trace_id, s.span_id, 0x01, START, "ERROR" if e["error"] else "INFO", semconv.LLMTAP_LLM_CALL_EVENT)
        for s, e in zip(calls, expected, strict=True)]
    if derived.commit is not None:
        derived.commit()
    flushed = connector.flush()
    tokens = Counter[str]()
    if flushed is not None:
        for labels, p in _points([flushed], semconv.LLMTAP_TOKENS):
            tokens[labels["gen_ai.token.type"]] += p.as_int
    want = Counter[str]()
    for e in expected:
        for kind, key in (("input", "gen_ai.usage.input_tokens"), ("output", "gen_ai.usage.output_tokens"),
                          ("cache_read", "gen_ai.usage.cache_read.input_tokens"),
                          ("cache_write", "gen_ai.usage.cache_creation.input_tokens"),
                          ("reasoning", "gen_ai.usage.reasoning.output_tokens")):
            want[kind] += e["attributes"].get(key, 0)
    assert +tokens == +want

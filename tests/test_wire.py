"""The compiled readers of `wire` against the protobuf runtime: `scan_usage` reads, for any trace request, the
values the runtime reads; `append_to_spans` edits a request's bytes as adding the attributes to the message
would; `content_text`, `events_only`, `json_leaves` and `message_preview` read what Python reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from llmtap.collector import attributes, wire
from tests.otlp_data import genai_spans

KEYS = ["a", "b", "gen_ai.usage.input_tokens", "é-key", "missing"]
"""Keys asked for; the strategies below also make keys that are not asked for."""

scalars = st.one_of(
    st.text(max_size=20).map(lambda s: AnyValue(string_value=s)),
    st.booleans().map(lambda b: AnyValue(bool_value=b)),
    st.integers(-(2**63), 2**63 - 1).map(lambda i: AnyValue(int_value=i)),
    st.floats(allow_nan=False).map(lambda f: AnyValue(double_value=f)),
    st.binary(max_size=8).map(lambda b: AnyValue(bytes_value=b)),
    st.just(AnyValue()),
)


def _array(items: list[AnyValue]) -> AnyValue:
    value = AnyValue()
    value.array_value.SetInParent()
    value.array_value.values.extend(items)
    return value


def _kvlist(items: list[tuple[str, AnyValue]]) -> AnyValue:
    value = AnyValue()
    value.kvlist_value.SetInParent()
    value.kvlist_value.values.extend(KeyValue(key=k, value=v) for k, v in items)
    return value


values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3).map(_array),
    st.lists(st.tuples(st.text(max_size=5), inner), max_size=3).map(_kvlist)), max_leaves=6)
key_values = st.lists(st.tuples(st.sampled_from([*KEYS[:-1], "other", ""]), values), max_size=8)


@st.composite
def requests(draw: Any) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for n in range(draw(st.integers(0, 2))):
        rs = request.resource_spans.add(schema_url=f"https://opentelemetry.io/schemas/1.{n}")
        rs.resource.attributes.add(key="service.name").value.string_value = f"svc-{n}"
        for _ in range(draw(st.integers(0, 2))):
            ss = rs.scope_spans.add()
            for _ in range(draw(st.integers(0, 3))):
                span = ss.spans.add(name="s", trace_id=draw(st.binary(min_size=16, max_size=16)),
                                    span_id=draw(st.binary(min_size=8, max_size=8)),
                                    start_time_unix_nano=draw(st.integers(0, 2**64 - 1)),
                                    end_time_unix_nano=draw(st.integers(0, 2**64 - 1)),
                                    flags=draw(st.integers(0, 2**32 - 1)))
                span.status.code = draw(st.sampled_from([0, 1, 2]))
                span.attributes.extend(KeyValue(key=k, value=v) for k, v in draw(key_values))
                span.events.add(name="e").attributes.add(key="a").value.string_value = "from an event"
    return request


USAGE_ROLES = ("a", "b", "é-key", "missing", "gen_ai.usage.input_tokens", "out", "read", "write", "reasoning")
"""scan_usage's roles: operation, provider, response and request model, then the five token counts."""


@settings(max_examples=300, deadline=None)
@given(requests())
def test_scan_usage_reads_what_the_protobuf_runtime_reads(request: ExportTraceServiceRequest) -> None:
    spans = [span for _, span in attributes.spans(request)]
    found = [{kv.key: attributes.value_of(kv.value) for kv in span.attributes} for span in spans]  # the last counts
    expected = [(i, span.start_time_unix_nano, f.get("b"), f.get("é-key"), f.get("missing"),
                 wire.usage_counts(f["gen_ai.usage.input_tokens"], None, None, None, None)
                 if "gen_ai.usage.input_tokens" in f else None)
                for i, (span, f) in enumerate(zip(spans, found, strict=True)) if "a" in f]
    assert wire.scan_usage(request.SerializeToString(), USAGE_ROLES, ("other",)) == (
        len(spans), any("other" in f for f in found), expected)


def test_scan_usage_on_genai_spans() -> None:
    request = genai_spans(64, content_bytes=512, seed=3)
    roles = ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.response.model", "gen_ai.request.model",
             "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens",
             "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.reasoning.output_tokens")
    spans, forged, rows = wire.scan_usage(request.SerializeToString(), roles, ("llmtap.cost.usd",))
    assert spans == len(rows) == 64 and not forged
    for i, ((position, start, provider, response_model, request_model, counts), (_, span)) in enumerate(zip(
            rows, attributes.spans(request), strict=True)):
        found = {kv.key: attributes.value_of(kv.value) for kv in span.attributes}
        assert (position, start, provider, response_model, request_model) == (
            i, span.start_time_unix_nano, found["gen_ai.provider.name"], found.get("gen_ai.response.model"),
            found.get("gen_ai.request.model"))
        assert counts == wire.usage_counts(*(found.get(k) for k in roles[4:]))


@pytest.mark.parametrize("cut", [1, 7, 100])
def test_truncated_bytes_are_an_error_not_a_crash(cut: int) -> None:
    data = genai_spans(4, seed=1).SerializeToString()
    with pytest.raises(ValueError, match="not a valid ExportTraceServiceRequest"):
        wire.scan_usage(data[:-cut], USAGE_ROLES, ())


attribute_values = st.one_of(st.text(max_size=20), st.booleans(), st.integers(-(2**63), 2**63 - 1),
                             st.floats(allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(requests(), st.lists(st.lists(st.tuples(st.text(max_size=10), attribute_values), max_size=3), max_size=12))
def test_append_to_spans_is_adding_the_attributes_to_the_message(request: ExportTraceServiceRequest,
                                                                 added: list[list[tuple[str, Any]]]) -> None:
    spans = [span for _, span in attributes.spans(request)]
    added = (added + [[]] * len(spans))[:len(spans)]
    data = wire.append_to_spans(request.SerializeToString(),
                                [b"".join(wire.attribute(k, v) for k, v in attrs) for attrs in added])
    for span, attrs in zip(spans, added, strict=True):
        for k, v in attrs:
            attributes.set_value(span.attributes.add(key=k).value, v)
    assert ExportTraceServiceRequest.FromString(data) == request
    resources = wire.scan_resources(data)
    assert [(Resource.FromString(raw), url) for raw, url in resources] == [
        (rs.resource, rs.schema_url) for rs in request.resource_spans]


def test_append_to_spans_needs_one_addition_per_span() -> None:
    data = genai_spans(3, seed=1).SerializeToString()
    with pytest.raises(ValueError, match="more spans than additions"):
        wire.append_to_spans(data, [b"", b""])
    with pytest.raises(ValueError, match="fewer spans than additions"):
        wire.append_to_spans(data, [b""] * 4)


def test_a_request_without_resources_or_content_reads_as_empty_bytes() -> None:
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.add(name="no resource, no attributes")
    data = request.SerializeToString()
    assert wire.scan_resources(data) == [(b"", "")]
    assert wire.content_text(data, {"gen_ai.input.messages": False}, (b"gen_ai.prompt.",)) == (b"", False)


def test_content_text_reads_content_keys_in_spans_and_events_and_decodes_json_strings() -> None:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add(name="s")
    span.attributes.add(key="gen_ai.input.messages").value.string_value = '[{"c": "a\\nb \\u00e9 \\ud83d\\ude00"}]'
    span.attributes.add(key="gen_ai.prompt.0.content").value.string_value = "prefix"
    span.attributes.add(key="other").value.string_value = "not content"
    event = span.events.add(name="e")
    event.attributes.add(key="gen_ai.input.messages").value.array_value.values.add().string_value = "in event"
    event.attributes.add(key="flag").value.bool_value = True
    text, flagged = wire.content_text(request.SerializeToString(), {"gen_ai.input.messages": False, "flag": True},
                                      (b"gen_ai.prompt.",))
    separator = b"\n\x00\n"
    assert text.split(separator) == [b'[{"c": "a\\nb \\u00e9 \\ud83d\\ude00"}]', b"c", "a\nb é 😀".encode(),
                                     b"prefix", b"in event", b""]
    assert flagged


def test_content_nested_deeper_than_content_text_reads_is_flagged_for_the_per_span_path() -> None:
    request = ExportTraceServiceRequest()
    value = request.resource_spans.add().scope_spans.add().spans.add(name="s").attributes.add(
        key="gen_ai.input.messages").value
    for _ in range(40):
        value = value.array_value.values.add()
    value.string_value = "mail jo@acme.io"
    text, flagged = wire.content_text(request.SerializeToString(), {"gen_ai.input.messages": False}, ())
    assert flagged and b"jo@acme.io" not in text


@pytest.mark.parametrize("any_value", [
    b"\x28\x01",  # array_value (5) as a varint
    b"\x08\x01",  # string_value (1) as a varint
    b"\x31" + b"\x00" * 8,  # kvlist_value (6) as a fixed64
    b"\x12\x01\x01",  # bool_value (2) length-delimited
    b"\x0a\x01x\x28\x01",  # a string, then an array_value as a varint
])
def test_anyvalue_fields_with_the_wrong_wire_type_are_unknown_fields_as_upb_reads_them(any_value: bytes) -> None:
    key_value = b"\x0a\x01a\x12" + bytes([len(any_value)]) + any_value
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add(name="s")
    span.MergeFromString(b"\x4a" + bytes([len(key_value)]) + key_value)  # Span.attributes
    span.attributes.add(key="op").value.string_value = "chat"
    _, _, [row] = wire.scan_usage(request.SerializeToString(), ("op", "a", *USAGE_ROLES[2:]), ())
    assert row[2] == attributes.value_of(span.attributes[0].value)


def test_events_only_is_true_for_a_logs_request_of_that_event_alone() -> None:
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    assert not wire.events_only(request.SerializeToString(), b"llmtap.llm_call")  # no records
    scope.log_records.add(event_name="llmtap.llm_call")
    scope.log_records.add(event_name="llmtap.llm_call")
    data = request.SerializeToString()
    assert wire.events_only(data, b"llmtap.llm_call")
    assert not wire.events_only(data, b"llmtap.llm_cal")
    request.resource_logs.add().scope_logs.add().log_records.add(event_name="app.event")
    assert not wire.events_only(request.SerializeToString(), b"llmtap.llm_call")
    with pytest.raises(ValueError, match="not a valid"):
        wire.events_only(data[:-1], b"llmtap.llm_call")
    with pytest.raises(ValueError, match="not a valid"):
        wire.content_text(genai_spans(2, content_bytes=64).SerializeToString()[:-1], {"a": False}, ())


def _values(node: Any) -> list[str]:
    """The string values of a parsed JSON document in document order (keys are not values)."""
    if isinstance(node, str):
        return [node]
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    return [s for child in children for s in _values(child)]


json_documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
).filter(lambda d: isinstance(d, (list, dict)))


@settings(max_examples=300, deadline=None)
@given(json_documents, st.sampled_from([(True, None), (False, None), (True, 2), (False, "\t")]))
def test_json_leaves_are_the_string_values_json_reads_and_where_they_are(document: Any,
                                                                         style: tuple[bool, Any]) -> None:
    text = json.dumps(document, ensure_ascii=style[0], indent=style[1])
    result = wire.json_leaves(text)
    assert result is not None
    joined, bounds = result
    values = _values(json.loads(text))  # duplicate keys: json keeps the last, like the document here
    assert joined == "".join(v + "\n\x00\n" for v in values)
    assert len(bounds) == 4 * len(values)
    for n, value in enumerate(values):
        raw_start, raw_end, start, end = bounds[4 * n: 4 * n + 4]
        assert text[raw_start - 1] == text[raw_end] == '"'
        assert json.loads(text[raw_start - 1: raw_end + 1]) == value == joined[start:end]


@pytest.mark.parametrize("text", [
    '{"a": 01}', '[1] x', '[1,]', '{"a" 1}', '["\\x"]', '["a\tb"]', '[tru]', '["open', "[" * 600 + "]" * 600,
    '"just a string"', '[\ud800"x"]', '{"a": -}', '[1.]', '[1e]',
])
def test_json_leaves_is_none_for_what_is_not_one_json_document(text: str) -> None:
    assert wire.json_leaves(text) is None


@pytest.mark.parametrize("text, values", [
    ('[NaN, -Infinity, Infinity, -0.5e+3, "x"]', ["x"]),
    (' \n{"k": ["\\ud83d\\ude00", "\\ud800"]}\r\n', ["\U0001F600", "\ud800"]),
])
def test_json_leaves_reads_what_python_json_reads(text: str, values: list[str]) -> None:
    result = wire.json_leaves(text)
    assert result is not None and result[0] == "".join(v + "\n\x00\n" for v in values)
    assert _values(json.loads(text)) == values


def _message_text(message: Any) -> str | None:
    if not isinstance(message, dict):
        return None
    if isinstance(message.get("content"), str):
        return str(message["content"])
    parts = message.get("parts")
    for part in parts if isinstance(parts, list) else ():
        if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("content"), str):
            return str(part["content"])
    return None


def _preview_by_json(text: str, limit: int, last_user: bool) -> str | None:
    """What `wire.message_preview` reads, with Python's json: the oracle of the test below."""
    try:
        messages = json.loads(text)
    except ValueError:
        return None
    if not isinstance(messages, list):
        return None
    first = last = None
    for message in messages:
        found = _message_text(message)
        if found is not None:
            first = found if first is None else first
            last = found if message.get("role") == "user" else last
    return ((last if last_user and last is not None else first) or "")[:limit]


class _Object(list[tuple[str, Any]]):
    """A JSON object as its members in order, repeated keys included."""


_words = st.sampled_from(["user", "assistant", "text", "reasoning", "", "usér", "😀 ok", 'say "hi"\n'])
_any_json = st.recursive(st.none() | st.booleans() | st.integers() | _words | st.text(max_size=6),
                         lambda inner: st.lists(inner, max_size=3), max_leaves=4)
_parts = st.lists(st.lists(st.tuples(st.sampled_from(["type", "content", "x"]), _words | _any_json),
                           max_size=4).map(_Object) | _any_json, max_size=4)
_messages = st.lists(st.lists(st.tuples(st.sampled_from(["role", "content", "parts", "name"]),
                                        _words | _any_json | _parts), max_size=5).map(_Object) | _any_json,
                     max_size=5)


@st.composite
def _message_texts(draw: st.DrawFn) -> str:
    """Message lists as JSON text: repeated keys, escaped characters (in keys too), spacing, and broken ones."""
    def string(value: str) -> str:
        return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 and draw(st.integers(0, 5)) == 0
                             else json.dumps(c, ensure_ascii=False)[1:-1] for c in value) + '"'

    def encode(value: Any) -> str:
        space = draw(st.sampled_from(["", " ", "\n  "]))
        if isinstance(value, _Object):
            return "{" + ",".join(f"{space}{string(k)}{space}:{encode(v)}" for k, v in value) + space + "}"
        if isinstance(value, list):
            return "[" + ",".join(space + encode(v) for v in value) + space + "]"
        return string(value) if isinstance(value, str) else json.dumps(value)

    text = encode(draw(_messages))
    change = draw(st.sampled_from(["none", "none", "cut", "junk"]))
    at = draw(st.integers(0, len(text)))
    return text if change == "none" else text[:at] if change == "cut" else text[:at] + "}" + text[at:]


@settings(max_examples=500, deadline=None)
@given(_message_texts(), st.sampled_from([0, 3, 200]), st.booleans())
def test_message_preview_reads_what_python_json_reads(text: str, limit: int, last_user: bool) -> None:
    assert wire.message_preview(text, limit, last_user) == _preview_by_json(text, limit, last_user)


@pytest.mark.parametrize("text", [
    '[{"role": "user", "content": "a"}] x', '{"role": "user", "content": "a"}', '[NaN, {"content": "\\ud800"}]',
    '[{"content": "a\tb"}]', '[{"content": 01}]', '[{"parts": [{"type": "text", "content": "p"}, ]}]',
    '[{"r\\u006fle": "us\\u0065r", "content": "q"}, {"content": "z", "content": 1, "parts": []}]',
])
def test_message_preview_on_edges(text: str) -> None:
    for last_user in (True, False):
        assert wire.message_preview(text, 200, last_user) == _preview_by_json(text, 200, last_user)


def test_message_preview_on_the_bench_content() -> None:
    request = genai_spans(8, content_bytes=1024)
    for span in request.resource_spans[0].scope_spans[0].spans:
        for kv in span.attributes:
            if kv.key in ("gen_ai.input.messages", "gen_ai.output.messages"):
                text = kv.value.string_value
                preview = wire.message_preview(text, 200, True)
                assert preview and preview == _preview_by_json(text, 200, True)


@pytest.mark.parametrize(("values", "counts"), [
    ((100, 20, 0, 0, 0), (100, 20, 0, 0, 0)),
    ((100, 20, 30, 40, 5), (100, 20, 30, 40, 5)),
    ((25, 400, 1000, 100, 0), (1125, 400, 1000, 100, 0)),  # uncached input beside cache counts: made inclusive
    ((10, 3, 0, 0, 8), (10, 8, 0, 0, 8)),  # output includes reasoning
    (("100", " 20 ", "1e3", "3.9", None), (1103, 20, 1000, 3, 0)),
    ((99.9, -5, True, [1, 2], b"7"), (99, 0, 0, 0, 0)),
    ((float("inf"), float("nan"), "inf", "-inf", "nan"), (0, 0, 0, 0, 0)),
    (("12abc", "", 0.5, -0.5, {"a": 1}), (0, 0, 0, 0, 0)),
    ((2**80, 1e30, 0, 0, 0), (2**50, 2**50, 0, 0, 0)),  # absurd counts are capped, sums stay exact
])
def test_usage_counts(values: tuple[Any, ...], counts: tuple[int, ...]) -> None:
    assert wire.usage_counts(*values) == counts

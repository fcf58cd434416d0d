"""The `redact` processor: detection quality on the labelled corpus, replacement modes, JSON that stays valid,
and flags and counts through the collector with the OpenTelemetry SDK sending."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from llmtap import semconv
from llmtap.collector import attributes, wire
from llmtap.collector.config import ConfigError
from llmtap.collector.service import parse_config
from llmtap.collector.signals import Batch, Signal
from llmtap.processors.redact import RedactConfig, RedactProcessor, Scanner, _match
from tests.conftest import free_port, memory_config, run_service, wait_for
from tests.otlp_data import genai_spans, kv
from tests.pii_corpus import generate, score

STRUCTURED = ("EMAIL", "PHONE", "US_SSN", "CREDIT_CARD", "IBAN", "IP_ADDRESS", "URL_CREDENTIALS", "API_KEY", "JWT",
              "PRIVATE_KEY", "SECRET", "DATE_OF_BIRTH")


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(RedactConfig())


def test_corpus_recall_precision_and_hard_negatives(scanner: Scanner) -> None:
    samples = generate(2400, seed=7)
    negatives = sum(1 for s in samples if not s.entities)
    assert len(samples) >= 2000 and negatives >= 0.25 * len(samples)
    result = score(scanner, samples)
    assert set(result.types) == set(STRUCTURED)
    report = {t: (round(result.recall(t), 3), round(result.precision(t), 3)) for t in result.types}
    for kind in STRUCTURED:
        assert result.recall(kind) >= 0.98, (kind, report, [m for m in result.misses if m[0] == kind][:5])
        assert result.precision(kind) >= 0.98, (kind, report, [f for f in result.false_findings if f[0] == kind][:5])
    assert result.change_rate <= 0.02
    assert result.json_samples > 500 and result.json_broken == 0


@pytest.mark.parametrize("text, redacted", [
    ("mail john.doe@example.com or call +1-780-563-6083x7783", "mail <EMAIL> or call <PHONE>"),
    ("card 4111 1111 1111 1111, not 4111 1111 1111 1112", "card <CREDIT_CARD>, not 4111 1111 1111 1112"),
    ("IBAN DE89 3704 0044 0532 0130 00, not DE89 3704 0044 0532 0130 01",
     "IBAN <IBAN>, not DE89 3704 0044 0532 0130 01"),
    ("ssn 123-45-6789 but not 000-45-6789 or 2024-11-23", "ssn <US_SSN> but not 000-45-6789 or 2024-11-23"),
    ("postgres://admin:hunter2@db.internal/app", "postgres://<URL_CREDENTIALS>@db.internal/app"),
    ("from 192.168.1.20 and 2001:db8::8a2e:370:7334; version 3.11.7",
     "from <IP_ADDRESS> and <IP_ADDRESS>; version 3.11.7"),
    ("max_tokens: 4096, auth: required, api_key=Zq8Kx2mW9pL4vB7n",
     "max_tokens: 4096, auth: required, api_key=<SECRET>"),
    ("DOB: 03/14/1985, meeting on 03/14/2025", "DOB: <DATE_OF_BIRTH>, meeting on 03/14/2025"),
    ("uuid 550e8400-e29b-41d4-a716-446655440000 at 2024-11-23T10:15:30Z", None),
])
def test_examples(scanner: Scanner, text: str, redacted: str | None) -> None:
    out, _ = scanner.redact(text)
    assert out == (text if redacted is None else redacted)


def test_message_json_stays_valid_with_escapes_and_non_ascii(scanner: Scanner) -> None:
    messages = [{"role": "user", "parts": [
        {"type": "text", "content": "Grüße aus München!\nMail: jürgen@example.de? no: juergen@example.de\t\"quoted\""},
        {"type": "tool_call", "id": "call_1", "name": "notify", "arguments": {"to": "+49 30 901820", "n": 3}},
    ]}]
    for ensure_ascii in (True, False):
        value = json.dumps(messages, ensure_ascii=ensure_ascii)
        out, findings = scanner.redact(value)
        parsed = json.loads(out)
        assert [f.type for f in findings] == ["EMAIL", "EMAIL", "PHONE"]
        text = parsed[0]["parts"][0]["content"]
        assert text == "Grüße aus München!\nMail: <EMAIL>? no: <EMAIL>\t\"quoted\""
        assert parsed[0]["parts"][1] == {"type": "tool_call", "id": "call_1", "name": "notify",
                                         "arguments": {"to": "<PHONE>", "n": 3}}


def test_json_keeps_its_keys_numbers_and_layout(scanner: Scanner) -> None:
    """Only string values are redacted, in place: a key that looks like PII is a name, not content."""
    document = {"bob@example.com": {"phone": "+44 20 7946 0958", "n": 4111111111111111, "ok": "fine"}}
    value = json.dumps(document, indent=2, ensure_ascii=True)
    out, findings = scanner.redact(value)
    assert out == value.replace("+44 20 7946 0958", "<PHONE>")
    assert [(f.type, f.start, f.end) for f in findings] == [("PHONE", 0, 16)]


@pytest.mark.parametrize("name, value, passes", [
    ("card", "4111 1111 1111 1111", True), ("card", "4111 1111 1111 1112", False),
    ("card", "1234 5678 9012 3452", False), ("card", "4111-1111 1111-1111", False), ("card", "2720990000000007", True),
    ("iban", "DE89 3704 0044 0532 0130 00", True), ("iban", "DE89 3704 0044 0532 0130 01", False),
    ("iban", "DE89 3704 0044 0532 0130 0", False),
    ("ssn", "123-45-6789", True), ("ssn", "000-45-6789", False), ("ssn", "666-45-6789", False),
    ("ssn", "923-45-6789", False), ("ssn", "123-00-6789", False), ("ssn", "123-45-0000", False),
    ("ssn", "123 45-6789", False),
    ("ipv4", "192.168.1.20", True), ("ipv4", "10.0.0.1", True), ("ipv4", "010.1.1.1", False),
    ("ipv6", "2001:db8::8a2e:370:7334", True), ("ipv6", "::1", True), ("ipv6", "a::b", False),
    ("ipv6", "1:2:3:4:5:6:7:8:9", False), ("ipv6", "::ffff:1.2.3.04", False),
    ("phone", "+1-780-563-6083x7783", True), ("phone", "+44 20 7946 0958", True), ("phone", "(555) 123-4567", True),
    ("phone", "555-1234", True), ("phone", "07 88 35 33 74", True), ("phone", "206.269.0743", True),
    ("phone", "2024-11-23", False), ("phone", "123-45-6789", False), ("phone", "12 34 56 78", False),
    ("phone", "1.2.3.4567", False), ("phone", "4111 1111 1111 1111", False), ("phone", "(555 123-4567", False),
    ("secret", "Zq8Kx2mW9pL4vB7n", True), ("secret", "Zq8Kx2mW9pL4vB7né", True), ("secret", "required", False),
    ("secret", "4096409640964096", False), ("secret", "Aaaaaaaaaaaaaaaa", False),
    ("password", "hunter2", True), ("password", "None", False), ("password", "****", False), ("password", "abc", False),
    ("birth_date", "03/14/1985", True), ("birth_date", "1985-03-14", True), ("birth_date", "March 14th, 1985", True),
    ("birth_date", "14 Mar. 1985", True), ("birth_date", "02/30/1985", False), ("birth_date", "03/14/1885", False),
    ("birth_date", "03/14/2999", False), ("birth_date", "13/13/1985", False), ("birth_date", "14/03/85", True),
])
def test_checks(name: str, value: str, passes: bool) -> None:
    assert _match.check(name, value.encode()) is passes


_FRAGMENTS = ["a@b.co", "jürgen@example.de", "+44 20 7946 0958", "(555) 123-4567", "4111 1111 1111 1111",
              "123-45-6789", "ssn: 123456789", "DE89 3704 0044 0532 0130 00", "10.0.0.1", "2001:db8::1", "born on",
              "03/14/1985", "api_key=Zq8Kx2mW9pL4vB7n", "Bearer abcdefghijklmnopqrstu", "password: hunter2", "x", "12",
              "-", ".", ",", ":", "/", "€", "\n", " ", "sk-abcdefghijklmnopqrstuvwxyz", "postgres://u:p@h", "0",
              "ext. 12"]


@pytest.fixture(scope="module")
def unchecked(scanner: Scanner) -> tuple[_match.Matcher, list[re.Pattern[str]]]:
    """The built-in detectors without their checks: as PCRE2 (a Matcher) and as Python's `re`."""
    detectors = scanner.detectors
    return (_match.Matcher([(d.exact, d.ignore_case, d.reach_back, d.widen, "") for d in detectors]),
            [re.compile(d.exact, re.ASCII | (re.IGNORECASE if d.ignore_case else 0)) for d in detectors])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=4)), max_size=12))
def test_pcre2_finds_what_python_re_finds_with_the_same_patterns(
        scanner: Scanner, unchecked: tuple[_match.Matcher, list[re.Pattern[str]]], pieces: list[str]) -> None:
    """The detectors' patterns are written in the syntax PCRE2 and Python's `re` share: run over a whole text
    without checks, both find the same values."""
    text = "".join(pieces)
    matcher, patterns = unchecked
    found = matcher.find(text, text.encode("utf-8", "surrogatepass"), [], tuple(range(len(patterns))))
    expected = []
    for i, (d, exact) in enumerate(zip(scanner.detectors, patterns, strict=True)):
        for m in exact.finditer(text):
            start, end = m.span("v") if "v" in exact.groupindex else m.span()
            while d.widen and start > 0 and (text[start - 1].isalnum() or text[start - 1] in "._%+-"):
                start -= 1
            if start < end:
                expected.append((start, end, i))
    assert sorted(set(found)) == sorted(set(expected))


def test_offsets_are_characters_in_text_with_non_ascii_and_lone_surrogates(scanner: Scanner) -> None:
    text = "\ud800 Grüße jürgen@example.de, ☎ +49 30 901820 €1234567"
    out, findings = scanner.redact(text)
    assert out == "\ud800 Grüße <EMAIL>, ☎ <PHONE> €1234567"
    assert [text[f.start:f.end] for f in findings] == ["jürgen@example.de", "+49 30 901820"]


def test_hash_joins_the_same_value_without_revealing_it() -> None:
    hashing = Scanner(RedactConfig(actions={"EMAIL": "hash", "CREDIT_CARD": "hash"}, hash_key="k1"))
    a, _ = hashing.redact("from Jane.Doe@Example.com")
    b, _ = hashing.redact("to jane.doe@example.com, card 4111-1111-1111-1111")
    c, _ = Scanner(RedactConfig(default_action="hash", hash_key="k2")).redact("jane.doe@example.com")
    assert a.startswith("from <EMAIL:") and len(a) == len("from <EMAIL:12345678>")
    assert a[5:] == b[3:19]
    assert "<CREDIT_CARD:" in b and "4111" not in b
    assert c != a[5:] and c.startswith("<EMAIL:")


def test_every_built_in_detector_is_located_by_hyperscan(scanner: Scanner) -> None:
    """A built-in pattern Hyperscan cannot compile would silently be run over every text, at many times
    the cost."""
    assert scanner._everywhere == ()


def test_keep_allow_disable_and_custom_patterns() -> None:
    config = RedactConfig(actions={"IP_ADDRESS": "keep"}, allow=["Support@Acme.com"],
                          allow_patterns=[r".*@example\.org"], disable=["US_SSN"],
                          patterns=[{"type": "EMPLOYEE_ID", "regex": r"EMP-\d{6}"},  # type: ignore[list-item]
                                    {"type": "TICKET", "regex": r"(?<![\w-])T-(\d)\1\d{3}"}])  # type: ignore[list-item]
    scanner = Scanner(config)
    assert [scanner.detectors[i].type for i in scanner._everywhere] == ["TICKET"]  # lookbehind: Python only
    out, findings = scanner.redact("10.1.2.3 support@acme.com a@example.org b@x.io 123-45-6789 EMP-004211 T-11234")
    assert out == "10.1.2.3 support@acme.com a@example.org <EMAIL> 123-45-6789 <EMPLOYEE_ID> <TICKET>"
    assert [f.type for f in findings] == ["IP_ADDRESS", "EMAIL", "EMPLOYEE_ID", "TICKET"]


@pytest.mark.parametrize("raw, message", [
    ("redact: {actions: {EMAIL: hash}}", "hash_key is required"),
    ("redact: {patterns: [{type: X, regex: '(unclosed'}]}", "not a valid regular expression"),
    ("redact: {default_action: scramble}", "default_action"),
])
def test_config_errors_name_the_problem(tmp_path: Path, raw: str, message: str) -> None:
    config = memory_config(free_port(), free_port(), tmp_path, processors={"redact": raw.split(": ", 1)[1]})
    with pytest.raises(ConfigError, match=message):
        parse_config(config)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(), st.sampled_from(["a@b.co", "+44 20 7946 0958", "4111111111111111", "\\u00e9"])),
                max_size=6))
def test_any_text_any_json_never_breaks(scanner: Scanner, pieces: list[str]) -> None:
    text = " ".join(pieces)
    out, _ = scanner.redact(text)
    assert isinstance(out, str)
    document = json.dumps([{"role": "user", "parts": [{"type": "text", "content": text}]}])
    out, _ = scanner.redact(document)
    assert len(json.loads(out)[0]["parts"]) == 1


def test_flags_cannot_be_forged_or_cleared() -> None:
    processor = RedactProcessor("redact", RedactConfig())
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    clean, forged_clear, forged_set = spans.add(), spans.add(), spans.add()
    clean.attributes.append(kv("gen_ai.input.messages", '[{"role":"user","parts":[]}]'))
    forged_clear.attributes.extend([kv("gen_ai.system_instructions", "reach me at ops@acme.io"),
                                    kv(semconv.LLMTAP_PII_DETECTED, False)])
    forged_set.attributes.extend([kv(semconv.LLMTAP_PII_DETECTED, True), kv(semconv.LLMTAP_PII_TYPES, ["SSN"])])
    event = forged_set.events.add()
    event.attributes.append(kv("gen_ai.output.messages", '[{"role":"assistant","parts":[{"type":"text",'
                                                         '"content":"key sk-proj-abcdefghijklmnopqrstuvwx"}]}]'))
    batch = Batch(Signal.TRACES, request, request.SerializeToString())  # as received: past the wire prefilter
    asyncio.run(processor.process(batch))
    assert batch.data() == request.SerializeToString()
    flags = {semconv.LLMTAP_PII_DETECTED, semconv.LLMTAP_PII_TYPES}
    assert attributes.pick(clean.attributes, flags) == {}
    assert attributes.pick(forged_clear.attributes, flags) == {semconv.LLMTAP_PII_DETECTED: True,
                                                                semconv.LLMTAP_PII_TYPES: ["EMAIL"]}
    assert attributes.pick(forged_set.attributes, flags) == {semconv.LLMTAP_PII_DETECTED: True,
                                                              semconv.LLMTAP_PII_TYPES: ["API_KEY"]}
    assert "<API_KEY>" in attributes.value_of(event.attributes[0].value)  # type: ignore[operator]
    assert processor.counts == {"EMAIL": 1, "API_KEY": 1}


def test_requests_without_content_pass_untouched_and_forged_flags_are_still_seen() -> None:
    """Content capture is off by default: such requests are passed on from their bytes alone, unread; one forged
    flag, a content key under a configured glob, or a glob that could match any key sends them through."""
    processor = RedactProcessor("redact", RedactConfig())
    request = genai_spans(20)  # no content, and ids, models and e-mail-like user ids in plain attributes
    request.resource_spans[0].scope_spans[0].spans[0].attributes.append(kv("enduser.id", "ops@acme.io"))
    data = request.SerializeToString()
    assert processor._wire is not None and not processor._wire.maybe_in(data), "decided from the bytes alone"
    batch = Batch(Signal.TRACES, request, data)
    asyncio.run(processor.process(batch))
    assert batch.data() is data, "nothing for redact: the received bytes go on as they are"

    def redacted(config: RedactConfig, key: str, value: Any) -> Batch:
        r = genai_spans(3)
        r.resource_spans[0].scope_spans[0].spans[1].attributes.append(kv(key, value))
        b = Batch(Signal.TRACES, r, r.SerializeToString())
        asyncio.run(RedactProcessor("redact", config).process(b))
        return b

    forged = redacted(RedactConfig(), semconv.LLMTAP_PII_DETECTED, True)
    assert semconv.LLMTAP_PII_DETECTED not in attributes.pick(
        forged.message.resource_spans[0].scope_spans[0].spans[1].attributes, {semconv.LLMTAP_PII_DETECTED})  # type: ignore[union-attr]
    for config, key in ((RedactConfig(), "llm.input_messages.0.message.content"),
                        (RedactConfig(attributes=["app.*.notes"]), "app.ticket.notes"),
                        (RedactConfig(attributes=["*notes"]), "ticket_notes")):
        b = redacted(config, key, "mail ops@acme.io")
        assert attributes.pick(b.message.resource_spans[0].scope_spans[0].spans[1].attributes,  # type: ignore[union-attr]
                               {key}) == {key: "mail <EMAIL>"}, key


def _with_content(text: str, shape: int) -> ExportTraceServiceRequest:
    request = genai_spans(2)
    span = request.resource_spans[0].scope_spans[0].spans[1]
    message = [{"role": "user", "parts": [{"type": "text", "content": text}]}]
    if shape == 0:  # as Python instrumentations write it: non-ASCII and newlines escaped
        span.attributes.append(kv("gen_ai.input.messages", json.dumps(message)))
    elif shape == 1:
        span.attributes.append(kv("gen_ai.output.messages", json.dumps(message, ensure_ascii=False)))
    elif shape == 2:  # plain text (or a corpus JSON text as it is) under a prefix glob
        span.attributes.append(kv("gen_ai.prompt.0.content", text))
    elif shape == 3:  # in a span event
        span.events.add(name="gen_ai.user.message").attributes.append(kv("gen_ai.event.content", json.dumps(
            {"content": text})))
    else:  # in an array
        span.attributes.append(kv("gen_ai.tool.call.arguments", ["x", text]))
    return request


def test_a_request_read_clean_from_its_bytes_is_one_the_per_span_path_leaves_unchanged() -> None:
    """The corpus in five shapes (escaped and raw JSON messages, plain text under a prefix glob, an event's and
    an array's values): the result with the one-scan check on the bytes equals the per-span path's, and a request the
    check lets through unread is one the per-span path does not change (what proves the check safe). Ordinary
    content passes it (what makes it worth having); so do some hard negatives, which are made to look like PII."""
    processor = RedactProcessor("redact", RedactConfig())
    assert processor._content_keys is not None
    samples = generate()
    passed_negatives = negatives = 0
    for i, sample in enumerate(samples):
        request = _with_content(sample.text, i % 5)
        data = request.SerializeToString()
        per_span = Batch(Signal.TRACES, ExportTraceServiceRequest.FromString(data))  # no bytes: every span read
        asyncio.run(processor.process(per_span))
        from_bytes = Batch(Signal.TRACES, ExportTraceServiceRequest.FromString(data), data)
        asyncio.run(processor.process(from_bytes))
        assert from_bytes.message == per_span.message, sample.text
        text, flagged = wire.content_text(data, *processor._content_keys)
        passed = not flagged and processor.scanner.clean(text)
        if passed:
            assert per_span.message == request, sample.text
        if not sample.entities:
            negatives += 1
            passed_negatives += passed
    assert 0 < passed_negatives < negatives, (passed_negatives, negatives)
    ordinary = genai_spans(8, content_bytes=2000).SerializeToString()
    text, flagged = wire.content_text(ordinary, *processor._content_keys)
    assert len(text) > 8 * 2000 and not flagged and processor.scanner.clean(text)


def test_content_nested_too_deep_to_read_from_the_bytes_is_still_redacted() -> None:
    request = genai_spans(1)
    value = request.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="gen_ai.input.messages").value
    for _ in range(40):
        value = value.array_value.values.add()
    value.string_value = "mail jo@acme.io"
    batch = Batch(Signal.TRACES, request, request.SerializeToString())
    asyncio.run(RedactProcessor("redact", RedactConfig()).process(batch))
    span = batch.message.resource_spans[0].scope_spans[0].spans[0]  # type: ignore[union-attr]
    [leaf] = [kv.value for kv in span.attributes if kv.key == "gen_ai.input.messages"]
    for _ in range(40):
        leaf = leaf.array_value.values[0]
    assert leaf.string_value == "mail <EMAIL>"


def test_key_cache_stays_bounded_and_right() -> None:
    """Keys with ids in them (`tool.<uuid>.result`) are each seen once: remembering every key's kind must not
    grow without end, and classifying after the cache was emptied must still be right."""
    processor = RedactProcessor("redact", RedactConfig())
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for i in range(3):
        span = spans.add()
        span.attributes.extend(kv(f"app.item.{i}.{n}", "reach me at ops@acme.io") for n in range(5000))
        span.attributes.append(kv("gen_ai.system_instructions", "reach me at ops@acme.io"))
        span.attributes.append(kv(semconv.LLMTAP_PII_DETECTED, False))
    asyncio.run(processor.process(Batch(Signal.TRACES, request)))
    assert len(processor._keys) <= 10_000
    for span in spans:
        values = attributes.pick(span.attributes, {"gen_ai.system_instructions", "app.item.0.0", "app.item.2.4999",
                                                   semconv.LLMTAP_PII_DETECTED})
        assert values["gen_ai.system_instructions"] == "reach me at <EMAIL>"
        assert values[semconv.LLMTAP_PII_DETECTED] is True
        assert "<EMAIL>" not in str(values.get("app.item.0.0", "")) + str(values.get("app.item.2.4999", ""))


def test_redacted_before_it_leaves_the_collector(tmp_path: Path) -> None:
    """Spans from the OpenTelemetry SDK over OTLP/HTTP, log records with content in the body: what the
    exporter receives has the placeholders, the flags, and the counts are on the self-metrics endpoint."""
    telemetry_port = free_port()
    config = memory_config(free_port(), free_port(), tmp_path, processors={"redact": "{}"}, logs_processors=("redact",))
    config = config.replace("telemetry: {metrics: {endpoint: null}}",
                            f'telemetry: {{metrics: {{endpoint: "127.0.0.1:{telemetry_port}"}}}}')
    with run_service(config) as running:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{running.http}/v1/traces")))
        content = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "I'm at +1 (415) 555-2671"}]}])
        with provider.get_tracer("t").start_as_current_span("chat gpt-4o") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.input.messages", content)
            span.set_attribute("http.url", "https://api.example.com/?email=not-content@x.io")  # not a content key
        provider.shutdown()

        logs = ExportLogsServiceRequest()
        record = logs.resource_logs.add().scope_logs.add().log_records.add()
        record.body.kvlist_value.values.append(kv("content", "my card is 5555 5555 5555 4444"))
        req = urllib.request.Request(f"{running.http}/v1/logs", data=logs.SerializeToString(),
                                     headers={"Content-Type": "application/x-protobuf"})
        with urllib.request.urlopen(req, timeout=10) as response:
            assert response.status == 200

        memory = running.exporter()
        wait_for(lambda: memory.items(Signal.TRACES) == 1 and memory.items(Signal.LOGS) == 1)
        [(_, got)] = list(attributes.spans(memory.messages(Signal.TRACES)[0]))
        found = attributes.pick(got.attributes, {"gen_ai.input.messages", "http.url", semconv.LLMTAP_PII_TYPES})
        assert json.loads(found["gen_ai.input.messages"])[0]["parts"][0]["content"] == "I'm at <PHONE>"  # type: ignore[arg-type]
        assert found["http.url"] == "https://api.example.com/?email=not-content@x.io"
        assert found[semconv.LLMTAP_PII_TYPES] == ["PHONE"]
        [got_log] = memory.messages(Signal.LOGS)[0].resource_logs[0].scope_logs[0].log_records
        assert got_log.body.kvlist_value.values[0].value.string_value == "my card is <CREDIT_CARD>"
        assert attributes.pick(got_log.attributes, {semconv.LLMTAP_PII_DETECTED}) == {semconv.LLMTAP_PII_DETECTED: True}
        with urllib.request.urlopen(f"http://127.0.0.1:{telemetry_port}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        assert 'llmtap_processor_redacted_findings_total{processor="redact",type="PHONE"} 1.0' in metrics
        assert 'llmtap_processor_redacted_findings_total{processor="redact",type="CREDIT_CARD"} 1.0' in metrics
        cpu = re.search(r'^llmtap_processor_cpu_seconds_total\{processor="redact"\} (\S+)$', metrics, re.M)
        assert cpu is not None and float(cpu.group(1)) > 0  # what it cost is measured too

"""Protobuf wire bytes: varints, whether an OTLP request can hold given attribute keys before any span is read,
and the spans' attributes read straight from the bytes.

A protobuf string is its length (a varint) and then its bytes: a key (or an event name) shows in a request as
that length and that string, and a key with a given prefix as the KeyValue key tag, a length and the prefix.
One Hyperscan pass over the request finds either, or proves that no span, event or record has one, so a
processor can pass on a request with nothing for it without reading a single span. A match is only a maybe
(message text can hold the same bytes): the processor's own per-item check still decides.

The compiled readers (`_wire.c`) walk a request's bytes once and return only what their caller needs. Through
the protobuf runtime each attribute read makes a Python object: 17 us per GenAI span for the ~20 keys pricing
and counting read. `scan_usage` gives the cost processor each GenAI span's provider, models and token counts;
`scan_calls` gives the genai_metrics connector, whose per-span work in Python (token counts, error type,
previews, the `llmtap.llm_call` record) cost more than the reading, per GenAI span its series' label values,
its measures and its record as LogRecord bytes (the connector's CPU per span in the collector under the bench's
load went from ~25 us to ~11 us with it). tests/test_wire.py checks them against the protobuf runtime.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from typing import Any

import hyperscan
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from llmtap.collector import attributes
from llmtap.collector._wire import (
    append_to_spans,
    call_rows,
    content_text,
    encode_attributes,
    events_only,
    json_leaves,
    message_preview,
    scan_calls,
    scan_resources,
    scan_usage,
    usage_counts,
)

__all__ = ["LOG_RECORD_ATTRIBUTES", "SPAN_ATTRIBUTES", "KeyPrefilter", "append_to_spans", "attribute",
           "call_rows", "content_text", "encode_attributes", "events_only", "exact_and_prefixes", "field",
           "json_leaves", "matches", "message_preview", "scan_calls", "scan_resources",
           "scan_usage", "usage_counts", "varint"]

SPAN_ATTRIBUTES = 0x4A
"""The tag of `Span.attributes` (field 9, length-delimited): what `append_to_spans` appends to a span."""

LOG_RECORD_ATTRIBUTES = 0x32
"""The tag of `LogRecord.attributes` (field 6, length-delimited): `scan_calls` frames the KeyValues a record
copies from its span with it."""

_KEY_TAG = b"\x0a"
"""KeyValue.key: field 1, length-delimited."""
_ANY_LENGTH = rb"(?:[\x01-\x7f]|[\x80-\xff][\x01-\x7f])"
"""A string's length up to 16 KiB as a varint: one byte, or two."""
_WILDCARDS = re.compile(r"[*?\[]")


_ONE_BYTE = [bytes((n,)) for n in range(128)]


def varint(n: int) -> bytes:
    """Protobuf's base-128 varint: a string's length prefix, and each message's in a length-delimited stream."""
    if 0 <= n < 128:
        return _ONE_BYTE[n]
    if 0 <= n < 16384:  # a record, a value of a few KB: two bytes without the loop
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def exact_and_prefixes(globs: Iterable[str]) -> tuple[list[str], list[str]] | None:
    """fnmatch globs over keys as the keys they name exactly, and the prefixes of those whose only wildcard is a
    final `*`; None when a glob has another wildcard."""
    exact, prefixes = [], []
    for glob in globs:
        wildcard = _WILDCARDS.search(glob)
        if wildcard is None:
            exact.append(glob)
        elif wildcard.start() == len(glob) - 1 and glob.endswith("*"):
            prefixes.append(glob[:-1])
        else:
            return None
    return exact, prefixes


def field(tag: int, payload: bytes) -> bytes:
    """A length-delimited field: its one-byte tag, the payload's length and the payload."""
    return _ONE_BYTE[tag] + varint(len(payload)) + payload


def attribute(key: str, value: Any, tag: int = SPAN_ATTRIBUTES) -> bytes:
    """One attribute as wire bytes: a KeyValue framed as field `tag` (an attribute of a span, by default)."""
    if isinstance(value, list | tuple):  # arrays: rare, through the protobuf runtime
        any_value = AnyValue()
        attributes.set_value(any_value, list(value))
        name = key.encode()
        return field(tag, field(0x0A, name) + field(0x12, any_value.SerializeToString()))
    return encode_attributes({key: value}, tag)


class KeyPrefilter:
    """Finds any of `whole` (keys or event names, exactly) or a key starting with one of `prefixes`."""

    def __init__(self, whole: Iterable[str], prefixes: Iterable[str] = ()):
        expressions = [re.escape(varint(len(s.encode())) + s.encode()) for s in whole]
        expressions += [re.escape(_KEY_TAG) + _ANY_LENGTH + re.escape(p.encode()) for p in prefixes]
        self._database: hyperscan.Database | None = None
        if expressions:
            self._database = hyperscan.Database()
            self._database.compile(expressions=expressions, ids=list(range(len(expressions))),
                                   elements=len(expressions),
                                   flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(expressions))

    @classmethod
    def from_globs(cls, globs: Iterable[str], whole: Iterable[str] = ()) -> KeyPrefilter | None:
        """For keys given as fnmatch globs: a glob's text before its first wildcard is a prefix. None when a
        glob starts with a wildcard (any key may match it: no prefilter can help)."""
        exact, prefixes = list(whole), []
        for glob in globs:
            wildcard = _WILDCARDS.search(glob)
            if wildcard is None:
                exact.append(glob)
            elif wildcard.start() == 0:
                return None
            else:
                prefixes.append(glob[:wildcard.start()])
        return cls(exact, prefixes)

    def maybe_in(self, data: bytes) -> bool:
        """False only when none of the keys, names or prefixes is in `data` (an OTLP request's bytes)."""
        return self._database is not None and matches(self._database, data)


def matches(database: hyperscan.Database, data: bytes) -> bool:
    """Whether any expression of `database` matches in `data`; the first match ends the scan."""
    found = False

    def seen(*_: Any) -> bool:
        nonlocal found
        found = True
        return True  # the first match answers the question: stop

    with contextlib.suppress(hyperscan.ScanTerminated):
        database.scan(data, match_event_handler=seen)
    return found

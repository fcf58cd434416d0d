"""Reading and writing OTLP attributes (`KeyValue` lists) on the parsed protobuf messages in place.

Processors touch only the few attributes they need, so these helpers read a chosen set of keys in one pass
and change single keys without rebuilding the list.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

Value = str | bool | int | float | list[Any] | None


def value_of(v: AnyValue) -> Value:
    """The Python value of an `AnyValue`; arrays become lists, key-value lists dicts, unset None."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value_of(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in v.kvlist_value.values}  # type: ignore[return-value]
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)  # type: ignore[no-any-return]


def as_float(value: Any) -> float | None:
    """An attribute value as a number (ints, doubles and numeric strings), or None (booleans included)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def as_text(value: Any) -> str:
    """An attribute value as text: strings as they are, booleans `true`/`false`, arrays and maps as JSON, unset
    as empty."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return "" if value is None else str(value)


def set_value(v: AnyValue, value: Value) -> None:
    if isinstance(value, bool):
        v.bool_value = value
    elif isinstance(value, int):
        v.int_value = value
    elif isinstance(value, float):
        v.double_value = value
    elif isinstance(value, str):
        v.string_value = value
    elif isinstance(value, list | tuple):
        v.array_value.SetInParent()
        del v.array_value.values[:]
        for item in value:
            set_value(v.array_value.values.add(), item)
    else:
        raise TypeError(f"cannot store {type(value).__name__} in an OTLP attribute")


def pick(attributes: Any, keys: Collection[str]) -> dict[str, Value]:
    """The values of those of `keys` present in `attributes` (a repeated `KeyValue`)."""
    return {kv.key: value_of(kv.value) for kv in attributes if kv.key in keys}


def put(attributes: Any, key: str, value: Value) -> None:
    """Set `key` to `value`, replacing an existing entry (the first; later duplicates are removed)."""
    found = False
    i = 0
    while i < len(attributes):
        kv = attributes[i]
        if kv.key == key:
            if found:
                del attributes[i]
                continue
            kv.value.Clear()
            set_value(kv.value, value)
            found = True
        i += 1
    if not found:
        kv = attributes.add()
        kv.key = key
        set_value(kv.value, value)


def remove(attributes: Any, keys: Collection[str]) -> dict[str, Value]:
    """Remove every entry whose key is in `keys`; returns the removed values."""
    removed: dict[str, Value] = {}
    i = 0
    while i < len(attributes):
        kv = attributes[i]
        if kv.key in keys:
            removed[kv.key] = value_of(kv.value)
            del attributes[i]
        else:
            i += 1
    return removed


def spans(request: Any) -> Iterator[tuple[Any, Span]]:
    """(resource, span) for every span of an `ExportTraceServiceRequest`."""
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                yield rs.resource, span


from typing import Any

class SpanRow(tuple[Any, ...]):
    resource_index: int
    scope_index: int
    span_index: int
    trace_id: bytes
    span_id: bytes
    flags: int
    start_time_unix_nano: int
    end_time_unix_nano: int
    status_code: int
    found: dict[str, Any]
    copied: bytes

def scan_spans(data: bytes, keys: dict[str, bool], copy_tag: int) -> list[SpanRow]: ...
def append_to_spans(data: bytes, additions: list[bytes]) -> bytes: ...
def scan_resources(data: bytes) -> list[tuple[bytes, str]]: ...
def content_text(data: bytes, keys: dict[str, bool], prefixes: tuple[bytes, ...]) -> tuple[bytes, bool]: ...
def json_leaves(text: str) -> tuple[str, list[int]] | None: ...
def events_only(data: bytes, name: bytes) -> bool: ...

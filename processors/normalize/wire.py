"""Whether a request's wire bytes can hold anything of another convention, before any span is looked at.

A protobuf string field is its length (a varint) and then its bytes: a key of another convention shows in the
request as that length and that key, and one with a foreign prefix as the KeyValue key tag, a length and the
prefix. One Hyperscan pass over the request finds either, or proves that no span, event or record has one, so
requests already in the current shape (the common case) skip the per-span key scan. A match is only a
maybe (message text can hold the same bytes): the per-span check still decides.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import hyperscan

from llmtap.processors.normalize import conventions

_KEY_TAG = b"\x0a"
"""KeyValue.key: field 1, length-delimited."""
_ANY_LENGTH = rb"(?:[\x01-\x7f]|[\x80-\xff][\x01-\x7f])"
"""A string's length up to 16 KiB as a varint: one byte, or two."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _expressions() -> list[bytes]:
    whole = [re.escape(_varint(len(s.encode())) + s.encode()) for s in (*conventions.EXACT, *conventions.EVENTS)]
    prefixes = [re.escape(_KEY_TAG) + _ANY_LENGTH + re.escape(p.encode()) for p in conventions.PREFIXES]
    return whole + prefixes


def _compile() -> hyperscan.Database:
    expressions = _expressions()
    database = hyperscan.Database()
    database.compile(expressions=expressions, ids=list(range(len(expressions))), elements=len(expressions),
                     flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(expressions))
    return database


_DATABASE = _compile()


def maybe_foreign(data: bytes) -> bool:
    """False only when no key, prefix or event name of another convention is in `data` (an OTLP request)."""
    found = False

    def seen(*_: Any) -> bool:
        nonlocal found
        found = True
        return True  # the first match answers the question: stop

    with contextlib.suppress(hyperscan.ScanTerminated):
        _DATABASE.scan(data, match_event_handler=seen)
    return found

"""Watching a streamed response without changing it.

The SDK's own stream object is kept (its type, methods and context manager stay exactly the SDK's); only
the iterator it pulls chunks from is wrapped. The wrapper passes each chunk to `observe` and ends the
invocation when the stream is exhausted, fails, or is closed. A stream dropped unfinished ends through
`weakref.finalize`, which also runs at interpreter exit.
"""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from typing import Any, TypeVar

from llmtap.instrumentation.genai.invocation import Invocation, report

T = TypeVar("T")

Observe = Callable[[Invocation, Any], bool]
"""Called with each chunk; returns False to hide the chunk from the application (usage-only chunks we
asked for ourselves)."""
Finish = Callable[[Invocation], None]
"""Called once when the stream ended normally, before the invocation ends (set finish reasons, usage)."""


def watch(invocation: Invocation, iterator: Iterator[T], observe: Observe, finish: Finish) -> Generator[T, None, None]:
    try:
        for item in iterator:
            if _shown(invocation, item, observe):
                yield item
    except GeneratorExit:  # closed or collected before the end: the application's choice, not a failure
        raise
    except BaseException as exc:
        invocation.fail(exc)
        raise
    finally:
        end_stream(invocation, finish)


async def watch_async(invocation: Invocation, iterator: AsyncIterator[T], observe: Observe,
                      finish: Finish) -> AsyncGenerator[T, None]:
    try:
        async for item in iterator:
            if _shown(invocation, item, observe):
                yield item
    except GeneratorExit:  # closed or collected before the end: the application's choice, not a failure
        raise
    except BaseException as exc:
        invocation.fail(exc)
        raise
    finally:
        end_stream(invocation, finish)


def _shown(invocation: Invocation, item: object, observe: Observe) -> bool:
    """Note the chunk; whether the application sees it (an llmtap error never hides one)."""
    try:
        if not invocation.first_chunk_ns:
            invocation.first_chunk_ns = time.perf_counter_ns()
        return observe(invocation, item)
    except Exception as exc:
        report("stream chunk", exc)
        return True


def end_stream(invocation: Invocation, finish: Finish) -> None:
    """Exhausted, closed or dropped: keep what was seen (usage may have arrived) and end the span."""
    if invocation.ended:
        return
    try:
        finish(invocation)
    except Exception as exc:
        report("stream finish", exc)
    invocation.end()


def end_when_collected(stream: object, invocation: Invocation, finish: Finish) -> None:
    """End the invocation if `stream` is garbage-collected (or the process exits) before it ends."""
    with contextlib.suppress(TypeError):  # not weak-referenceable: the iterator's own finalisation ends it
        weakref.finalize(stream, end_stream, invocation, finish)

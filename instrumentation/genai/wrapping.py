"""The wrappers around SDK methods, shared by the SDKs generated with Stainless (OpenAI, Anthropic): the
same `Stream`/`AsyncStream` classes with an `_iterator`, the same raw-response classes.

A wrapper starts an `Invocation`, calls the SDK exactly as the application did (plus any parameter an
`Operation` adds on purpose, such as OpenAI's `stream_options.include_usage`), and hands the result back
untouched. Whatever fails inside llmtap is logged once and the SDK call goes on as if llmtap were absent.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol, cast

from opentelemetry.util.types import AttributeValue

from llmtap.instrumentation.genai import endpoint, streams
from llmtap.instrumentation.genai.invocation import Invocation, report
from llmtap.instrumentation.genai.telemetry import Telemetry


class Accumulator(Protocol):
    def observe(self, inv: Invocation, chunk: Any) -> bool: ...
    def finish_stream(self, inv: Invocation) -> None: ...


class Operation(Protocol):
    """One SDK method's translation into telemetry (for example `chat.completions.create`)."""

    name: str

    def describe(self, instance: Any) -> tuple[str, str | None, int | None]:
        """(provider, server.address, server.port) for the resource instance the method is called on."""
        ...

    def model(self, kwargs: dict[str, Any]) -> str | None: ...

    def prepare(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The keyword arguments to call the SDK with, and whether an extra usage-only chunk is to be hidden."""
        ...

    def request_attributes(self, kwargs: dict[str, Any]) -> dict[str, AttributeValue]: ...
    def record_input(self, inv: Invocation, kwargs: dict[str, Any]) -> None: ...
    def record_response(self, inv: Invocation, response: Any) -> None: ...
    def accumulator(self, hide_usage_chunk: bool) -> Accumulator: ...


class ModuleOperation:
    """An `Operation` whose translation functions live in one module per API (`OPERATION`,
    `request_attributes`, `record_input`, `record_response`, `accumulator`), looked up at call time. The
    client an SDK resource holds (`instance._client`, with an httpx `base_url`) tells the provider:
    `default_provider` unless `by_class` names the client's class."""

    def __init__(self, api: ModuleType, default_provider: str, by_class: Mapping[str, str]):
        self.api = api
        self.name: str = api.OPERATION
        self.default_provider = default_provider
        self.by_class = by_class

    def describe(self, instance: Any) -> tuple[str, str | None, int | None]:
        return endpoint.describe(instance._client, self.default_provider, self.by_class)

    def model(self, kwargs: dict[str, Any]) -> str | None:
        model = kwargs.get("model")
        return model if isinstance(model, str) else None

    def prepare(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        return kwargs, False

    def request_attributes(self, kwargs: dict[str, Any]) -> dict[str, AttributeValue]:
        attributes: dict[str, AttributeValue] = self.api.request_attributes(kwargs)
        return attributes

    def record_input(self, inv: Invocation, kwargs: dict[str, Any]) -> None:
        self.api.record_input(inv, kwargs)

    def record_response(self, inv: Invocation, response: Any) -> None:
        self.api.record_response(inv, response)

    def accumulator(self, hide_usage_chunk: bool) -> Accumulator:
        accumulator: Accumulator = self.api.accumulator(hide_usage_chunk)
        return accumulator


@dataclass(frozen=True)
class SDKTypes:
    """The SDK's classes a result may be an instance of."""

    stream: type
    async_stream: type
    legacy_response: type | None = None
    """Returned by `.with_raw_response`: the body is read, `.parse()` caches; parsed at once."""
    api_responses: tuple[type, ...] = ()
    """Returned by `.with_streaming_response`: the body is not read yet; observed when the app parses."""
    stream_objects: bool = True
    """Streams are objects of the SDK's own class that pull from an `_iterator`, swapped for a watching one,
    so the application keeps the very object. False for an SDK whose streams are bare generators
    (google-genai): the application gets a watching generator in their place."""


@dataclass
class Instrumentation:
    telemetry: Telemetry
    types: SDKTypes
    streams: weakref.WeakKeyDictionary[Any, tuple[Invocation, Accumulator]] = field(
        default_factory=weakref.WeakKeyDictionary)

    # -- calls ---------------------------------------------------------------------------------------

    def _start(self, op: Operation, instance: Any, kwargs: dict[str, Any]) -> tuple[Invocation, dict[str, Any], bool]:
        provider, host, port = op.describe(instance)
        call_kwargs, hide = op.prepare(kwargs)
        inv = Invocation(self.telemetry, op.name, provider, op.model(kwargs), op.request_attributes(kwargs),
                         (host, port))
        if self.telemetry.capture.enabled:
            op.record_input(inv, kwargs)
        return inv, call_kwargs, hide

    def sync(self, op: Operation) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            return self.invoke(op, instance, kwargs, lambda call_kwargs: wrapped(*args, **call_kwargs))
        return wrapper

    def async_(self, op: Operation) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Awaitable[Any]], instance: Any, args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> Awaitable[Any]:
            return self.invoke_async(op, instance, kwargs, lambda call_kwargs: wrapped(*args, **call_kwargs))
        return wrapper

    def invoke(self, op: Operation, instance: Any, kwargs: dict[str, Any],
               call: Callable[[dict[str, Any]], Any]) -> Any:
        """Call the SDK (`call` with the keyword arguments to use) inside an invocation of `op`."""
        try:
            inv, call_kwargs, hide = self._start(op, instance, kwargs)
        except Exception as exc:
            report(f"{op.name} start", exc)
            return call(kwargs)
        try:
            result = call(call_kwargs)
        except BaseException as exc:
            inv.fail(exc)
            raise
        return self.result(inv, op, result, hide)

    async def invoke_async(self, op: Operation, instance: Any, kwargs: dict[str, Any],
                           call: Callable[[dict[str, Any]], Awaitable[Any]]) -> Any:
        try:
            inv, call_kwargs, hide = self._start(op, instance, kwargs)
        except Exception as exc:
            report(f"{op.name} start", exc)
            return await call(kwargs)
        try:
            result = await call(call_kwargs)
        except BaseException as exc:
            inv.fail(exc)
            raise
        return self.result(inv, op, result, hide)

    def deferred(self, op: Operation, request_attribute: str) -> Callable[..., Any]:
        """For SDK helpers that return a manager whose `__enter__`/`__aenter__` makes the request (Anthropic's
        `messages.stream()`): the manager's private request (a callable, or an awaitable for the async manager;
        the instance attribute whose name ends with `request_attribute`, as Python mangles private names per
        class) is replaced by one that makes it inside an invocation, so the span starts when the request does."""
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            manager = wrapped(*args, **kwargs)
            try:
                name = next(n for n in vars(manager) if n.endswith(request_attribute))
                request = getattr(manager, name)
                described = {**kwargs, "stream": True}
                if callable(request):
                    deferred: Any = lambda: self.invoke(op, instance, described, lambda _: request())  # noqa: E731
                else:  # made when awaited: a manager never entered warns only about the SDK's own coroutine
                    deferred = _Awaitable(lambda: self.invoke_async(op, instance, described, lambda _: request))
                setattr(manager, name, deferred)
            except Exception as exc:
                report(f"{op.name} stream helper", exc)
            return manager
        return wrapper

    # -- results -------------------------------------------------------------------------------------

    def result(self, inv: Invocation, op: Operation, result: Any, hide: bool) -> Any:
        """The SDK call returned: leave the span's context and record the result, or start watching it.
        Returns what the application gets: `result` itself, or for an SDK that streams through bare
        generators, a generator watching it."""
        inv.detach()
        try:
            types = self.types
            if isinstance(result, types.stream | types.async_stream):
                return self._watch(inv, op, cast(Any, result), hide)
            if types.legacy_response is not None and isinstance(result, types.legacy_response):
                self.result(inv, op, cast(Any, result).parse(), hide)
            elif types.api_responses and isinstance(result, types.api_responses):
                _on_first_parse(result, lambda parsed: self.result(inv, op, parsed, hide))
                streams.end_when_collected(result, inv, _no_finish)
            else:
                op.record_response(inv, result)
                inv.end()
        except Exception as exc:
            report(f"{op.name} result", exc)
            inv.end()
        return result

    def _watch(self, inv: Invocation, op: Operation, stream: Any, hide: bool) -> Any:
        acc = op.accumulator(hide)
        watch = streams.watch_async if isinstance(stream, self.types.async_stream) else streams.watch
        if not self.types.stream_objects:
            return watch(inv, stream, acc.observe, acc.finish_stream)
        iterator = getattr(stream, "_iterator", None)
        if iterator is None:  # an SDK without the attribute: no chunk-level data, but the span still ends
            inv.end()
            return stream
        stream._iterator = watch(inv, iterator, acc.observe, acc.finish_stream)
        self.streams[stream] = (inv, acc)
        streams.end_when_collected(stream, inv, acc.finish_stream)
        return stream

    # -- hooks on the SDK's own classes ----------------------------------------------------------------

    def stream_close(self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
                     kwargs: dict[str, Any]) -> Any:
        """`Stream.close()` before the end: end the span now, with what was seen."""
        try:
            return wrapped(*args, **kwargs)
        finally:
            self._closed(instance)

    def async_stream_close(self, wrapped: Callable[..., Awaitable[Any]], instance: Any, args: tuple[Any, ...],
                           kwargs: dict[str, Any]) -> Awaitable[Any]:
        async def close() -> Any:
            try:
                return await wrapped(*args, **kwargs)
            finally:
                self._closed(instance)
        return close()

    def _closed(self, stream: Any) -> None:
        try:
            entry = self.streams.pop(stream, None)
            if entry is not None:
                inv, acc = entry
                streams.end_stream(inv, acc.finish_stream)
        except Exception as exc:
            report("stream close", exc)


class _Awaitable:
    def __init__(self, make: Callable[[], Awaitable[Any]]):
        self.make = make

    def __await__(self) -> Any:
        return self.make().__await__()


def _on_first_parse(response: Any, observe: Callable[[Any], None]) -> None:
    """Hand what the application's first `response.parse()` returns to `observe`. The method is shadowed on
    this one response object (a `.with_streaming_response` result), not on the class: the SDK parses every
    ordinary call's response through the same method, and those pay nothing. The shadow holds the response
    only weakly, so dropping the response still frees it (and ends its span) at once."""
    method = type(response).parse
    ref = weakref.ref(response)
    pending = [observe]

    def parsed(value: Any) -> None:
        if pending:
            try:
                pending.pop()(value)
            except Exception as exc:
                report("response parse", exc)

    if inspect.iscoroutinefunction(method):
        async def parse_async(*args: Any, **kwargs: Any) -> Any:
            value = await method(ref(), *args, **kwargs)
            parsed(value)
            return value
        response.parse = parse_async
    else:
        def parse(*args: Any, **kwargs: Any) -> Any:
            value = method(ref(), *args, **kwargs)
            parsed(value)
            return value
        response.parse = parse


def _no_finish(inv: Invocation) -> None:
    """A raw response dropped before `.parse()`: only the request is known."""

"""`SDKInstrumentor`: what every llmtap instrumentor does the same way: build the telemetry from the
`instrument()` options, wrap each listed method with `wrapt`, and restore exactly those on `uninstrument()`."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from llmtap.instrumentation.genai.capture import content_capture
from llmtap.instrumentation.genai.telemetry import Telemetry
from llmtap.instrumentation.genai.wrapping import Instrumentation, SDKTypes

Wrapper = Callable[..., Any]


class SDKInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Subclasses name their scope and SDK types and list `(module, "Class.method", wrapper)` to wrap.

    Options of `instrument()` for all: `tracer_provider`, `meter_provider`, `logger_provider` and
    `capture_content` (a `ContentCapture` mode name; default from
    `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`)."""

    scope: str

    _wrapped: list[tuple[Any, str]]
    """(owner, attribute) pairs wrapped by `_instrument`. Set there, not in `__init__`: BaseInstrumentor is a
    singleton, so every construction runs `__init__` again on the instrumented instance."""

    def sdk_types(self) -> SDKTypes:
        raise NotImplementedError

    def wrappers(self, inst: Instrumentation, **kwargs: Any) -> list[tuple[str, str, Wrapper]]:
        raise NotImplementedError

    def _instrument(self, **kwargs: Any) -> None:
        capture = kwargs.get("capture_content")
        telemetry = Telemetry(self.scope, kwargs.get("tracer_provider"), kwargs.get("meter_provider"),
                              kwargs.get("logger_provider"),
                              content_capture(capture) if isinstance(capture, str) else None)
        inst = Instrumentation(telemetry, self.sdk_types())
        self._wrapped = []
        for module, method, wrapper in self.wrappers(inst, **kwargs):
            self._wrap(module, method, wrapper)

    def _wrap(self, module: str, method: str, wrapper: Wrapper) -> None:
        try:
            wrap_function_wrapper(module, method, wrapper)
        except (ImportError, AttributeError):  # an SDK version without this method: skip it
            return
        owner_name, attr = method.rsplit(".", 1)
        self._wrapped.append((getattr(importlib.import_module(module), owner_name), attr))

    def _uninstrument(self, **kwargs: Any) -> None:
        for owner, attr in getattr(self, "_wrapped", ()):
            unwrap(owner, attr)
        self._wrapped = []

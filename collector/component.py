"""The component model, as in the OpenTelemetry Collector: every receiver, processor, connector and
exporter is a typed config plus a factory, and has `start` and `shutdown`.

Data moves between them as `Batch`es (whole OTLP requests), never as one Python object per span.
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from llmtap.collector.config import Model
from llmtap.collector.signals import Batch, Signal

if TYPE_CHECKING:
    from llmtap.collector.telemetry import SelfTelemetry

C = TypeVar("C", bound=Model)


@dataclass
class Host:
    """What the service gives components when they start."""

    data_dir: Path
    telemetry: SelfTelemetry


class Component:
    """Anything with a lifecycle; `start` and `shutdown` do nothing unless overridden."""

    async def start(self, host: Host) -> None:
        """Open sockets, files, connections."""

    async def shutdown(self) -> None:
        """Release what `start` opened. Called once, in reverse start order."""


class BackpressureError(Exception):
    """The request cannot be taken now; the client should retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float = 1.0, unavailable: bool = False,
                 reason: str = "queue_full"):
        super().__init__(message)
        self.retry_after = retry_after
        self.unavailable = unavailable  # shutting down (503/UNAVAILABLE) rather than full (429/RESOURCE_EXHAUSTED)
        self.reason = reason  # the `reason` label of the refused items (REFUSAL_REASONS)


Consume = Callable[[Batch], Awaitable[None]]
"""What a receiver calls with each request; returns once it is safely queued, or raises
`BackpressureError`."""


class Receiver(Component):
    def __init__(self, component_id: str):
        self.id = component_id
        self.consumers: dict[Signal, Consume] = {}


@dataclass
class Downstream:
    """The rest of a pipeline after one processor, for processors that hold data back and release it later
    (the tail sampler). `emit` runs the later processors and queues the result even over the queues' limits:
    the data was acknowledged long ago, so the overshoot is bounded by what the processor holds. `has_room`
    tells the processor to answer new requests with backpressure instead of holding more."""

    emit: Callable[[Batch], Awaitable[None]]
    has_room: Callable[[], bool]


class Processor(Component):
    """Changes a batch in place (calling `batch.changed()`), or returns None to drop it whole."""

    downstream: Downstream | None = None
    """Set by the service before `start`."""

    def __init__(self, component_id: str):
        self.id = component_id

    @abc.abstractmethod
    async def process(self, batch: Batch) -> Batch | None: ...


@dataclass
class Derived:
    """What a connector makes of one batch: batches for the pipelines it feeds, queued with the batch (everywhere
    or nowhere), and `commit`, run only once they are, so that state a connector keeps (running totals)
    changes for accepted requests alone and a request retried after backpressure is not counted twice."""

    batches: list[Batch] = field(default_factory=list)
    commit: Callable[[], None] | None = None


class Connector(Processor):
    """Ends one pipeline and feeds others, as in the Collector; listed among a pipeline's processors (so it
    sees the batch at that point, e.g. before sampling) and as a receiver of the pipelines it feeds.
    The batch itself passes on unchanged. Its `downstream.emit` sends what it produces on its own schedule
    (a periodic flush) into the pipelines it feeds."""

    outputs: frozenset[Signal] = frozenset()

    @abc.abstractmethod
    def derive(self, batch: Batch) -> Derived:
        """What this batch adds to the pipelines the connector feeds (batches of signals in `outputs`)."""

    async def process(self, batch: Batch) -> Batch | None:
        return batch


class Exporter(Component):
    """Sends queued payloads to a backend. `export` runs in a worker thread, never on the event loop."""

    signals: frozenset[Signal] = frozenset(Signal)

    def __init__(self, component_id: str):
        self.id = component_id

    @abc.abstractmethod
    def export(self, signal: Signal, payloads: list[bytes], dedup_token: str) -> None:
        """Deliver serialized OTLP requests of `signal`, raising RetryableError or PermanentError."""

    def queue_config(self) -> Any:
        """The exporter's `sending_queue`, `retry_on_failure` and `batch` settings (see ExporterSettings)."""
        return getattr(self, "config", None)


@dataclass
class Factory(Generic[C]):
    """Builds one kind of component (`otlp`, `clickhouse`, ...) from its typed config."""

    type: str
    config: builtins.type[C]
    create: Callable[[str, C], Component]
    signals: frozenset[Signal] = field(default_factory=lambda: frozenset(Signal))
    """For a connector: the signals it takes in (it emits those of its `outputs`)."""
    outputs: frozenset[Signal] = frozenset()

"""Bounded exporter queues, in memory or persisted on disk (write-ahead), and the sending loop.

Each exporter owns one queue per signal. A receiver's request is acknowledged only after every
queue it goes to has taken it (the service checks room in all of them first, so a request is never
half-queued). A persistent queue writes each request to its own file (written, then renamed into
place) before the receiver answers, so a SIGKILL after the answer loses nothing: the files are read
back on start. The writes happen in a thread, in order, a burst of requests at a time, so the event
loop goes on reading and processing requests meanwhile; a request is exported only once it is on
disk. Batches taken for export get a deduplication token derived from the sequence numbers they
cover; the range is recorded before the first attempt, so a retry after a crash sends the same token
and the backend can drop the duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from llmtap.collector.config import ByteSize, Duration, Model

log = logging.getLogger("llmtap.queue")


class QueueFullError(Exception):
    """The queue has no room: the receiver answers with backpressure."""


class RetryableError(Exception):
    """An export failed in a way that may succeed later (backend down, 5xx, 429)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """An export failed in a way that retrying cannot fix (a 4xx other than 429, bad data).

    `refused` lists the indexes of the batch's requests the backend refused when the exporter delivered the
    others (it isolated the bad ones); None means none of the batch was delivered."""

    def __init__(self, message: str, refused: list[int] | None = None):
        super().__init__(message)
        self.refused = refused


class QueueConfig(Model):
    persistent: bool = True
    """Persist queued requests under the data directory so they survive a crash or restart."""
    max_bytes: ByteSize = 256 * 2**20
    """Capacity; when full, receivers answer 429 / RESOURCE_EXHAUSTED with a retry delay."""
    fsync: bool = False
    """fsync each request before acknowledging: survives power loss, not only a process crash."""


class RetryConfig(Model):
    enabled: bool = True
    initial_interval: Duration = 1.0
    max_interval: Duration = 30.0
    multiplier: float = 1.5
    randomization_factor: float = 0.5
    max_elapsed_time: Duration = 0.0
    """Give up on a batch after this long (it is then counted as dropped); 0 retries for ever."""


class BatchConfig(Model):
    max_items: int = 100_000
    """Most items (spans, data points, log records) in one export call."""
    max_bytes: ByteSize = 64 * 2**20
    flush_interval: Duration = 0.2
    """How long to wait for more data before exporting a small batch."""
    min_items: int = 8192


@dataclass
class Entry:
    seq: int
    items: int
    size: int
    data: bytes | None  # None when the payload only lives on disk
    written: asyncio.Future[None] | None = None
    """A persistent queue's entry until its file is in place (then None): done when it is, or failed."""


class BoundedQueue:
    """A FIFO of OTLP request payloads bounded in bytes, optionally persisted in `directory`."""

    def __init__(self, name: str, max_bytes: int, directory: Path | None = None, fsync: bool = False):
        self.name = name
        self.max_bytes = max_bytes
        self.directory = directory
        self.fsync = fsync
        self._entries: deque[Entry] = deque()
        self._in_flight: list[Entry] = []
        self._bytes = 0
        self._items = 0
        self._in_flight_items = 0
        self._unwritten: list[Entry] = []
        self._unwritten_items = 0
        self._writer: asyncio.Task[None] | None = None
        self._next_seq = 1
        self._changed = asyncio.Event()
        self._recovered_batch: tuple[int, int] | None = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._recover()

    # -- sizes --------------------------------------------------------------------------------
    @property
    def size_bytes(self) -> int:
        return self._bytes

    @property
    def size_items(self) -> int:
        return self._items

    def __len__(self) -> int:
        return len(self._entries) + len(self._in_flight)

    def has_room(self, size: int) -> bool:
        # An empty queue always takes one request, so a request larger than the queue is not refused for ever.
        return self._bytes == 0 or self._bytes + size <= self.max_bytes

    # -- producer side ------------------------------------------------------------------------
    def put(self, data: bytes, items: int, force: bool = False) -> asyncio.Future[None] | None:
        """Append a request. Callers check `has_room` first; this raises if there is none, unless `force`
        (data acknowledged earlier and held back by a processor, which must not be lost now).

        A persistent queue returns a future done once the request is on disk (or failed with the error that kept
        it off, usually an OSError: the request is then out of the queue again); acknowledge the request only
        after it."""
        if not force and not self.has_room(len(data)):
            raise QueueFullError(self.name)
        seq = self._next_seq
        self._next_seq += 1
        entry = Entry(seq, items, len(data), data)
        self._entries.append(entry)
        self._bytes += entry.size
        self._items += items
        if self.directory is None:
            self._changed.set()
            return None
        loop = asyncio.get_running_loop()
        entry.written = loop.create_future()
        self._unwritten.append(entry)
        self._unwritten_items += items
        if self._writer is None:
            self._writer = loop.create_task(self._write_unwritten(), name=f"writer {self.name}")
        return entry.written

    async def _write_unwritten(self) -> None:
        """Write what was put, a burst at a time, in a thread: the files in sequence order."""
        try:
            while self._unwritten:
                burst, self._unwritten = self._unwritten, []
                errors = await asyncio.to_thread(self._write_burst, burst)
                for entry, error in zip(burst, errors, strict=True):
                    written, entry.written = entry.written, None
                    self._unwritten_items -= entry.items
                    if error is None:
                        entry.data = None
                    else:
                        self._entries.remove(entry)
                        self._bytes -= entry.size
                        self._items -= entry.items
                    if written is not None and not written.done():  # done: its request was cancelled
                        if error is None:
                            written.set_result(None)
                        else:
                            written.set_exception(error)
                self._changed.set()
        finally:
            self._writer = None

    async def flush(self) -> None:
        """Wait until every request put so far is on disk (or failed)."""
        while self._writer is not None:
            await asyncio.shield(self._writer)

    # -- consumer side ------------------------------------------------------------------------
    def take(self, max_items: int, max_bytes: int) -> list[Entry]:
        """Move the oldest requests (at least one, if any) into the in-flight batch."""
        assert not self._in_flight, "ack the in-flight batch first"
        batch: list[Entry] = []
        items = size = 0
        if self._recovered_batch is not None:
            # Re-form the batch that was in flight at the crash, so its deduplication token is the same.
            first, last = self._recovered_batch
            self._recovered_batch = None
            while self._entries and first <= self._entries[0].seq <= last:
                batch.append(self._entries.popleft())
        else:
            while self._entries and self._entries[0].written is None:  # on disk (or in memory only)
                head = self._entries[0]
                if batch and (items + head.items > max_items or size + head.size > max_bytes):
                    break
                batch.append(self._entries.popleft())
                items += head.items
                size += head.size
        if batch and self.directory is not None:
            self._write_marker(batch[0].seq, batch[-1].seq)
        self._in_flight = batch
        self._in_flight_items = sum(e.items for e in batch)
        return batch

    def payloads(self, batch: list[Entry]) -> list[bytes]:
        return [e.data if e.data is not None else self._read(e.seq) for e in batch]

    def ack(self) -> None:
        """The in-flight batch is delivered (or given up on): forget it."""
        for entry in self._in_flight:
            self._bytes -= entry.size
            self._items -= entry.items
            if self.directory is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._path(entry.seq))
        if self.directory is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.directory / "inflight.json")
        self._in_flight = []
        self._in_flight_items = 0
        self._changed.set()

    def release(self) -> None:
        """Put the in-flight batch back at the head, unsent (shutdown mid-batch)."""
        self._entries.extendleft(reversed(self._in_flight))
        if self._in_flight and self.directory is not None:
            self._recovered_batch = (self._in_flight[0].seq, self._in_flight[-1].seq)
        self._in_flight = []
        self._in_flight_items = 0

    async def wait_changed(self, timeout: float | None) -> None:
        self._changed.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    def wake(self) -> None:
        """End a `wait_changed` now (a sender that starts draining)."""
        self._changed.set()

    def ready_items(self) -> int:
        """Items queued, on disk if the queue is persistent, and not in the in-flight batch."""
        return self._items - self._in_flight_items - self._unwritten_items

    @property
    def resuming(self) -> bool:
        """The batch in flight at a crash is to be sent again first (with its deduplication token)."""
        return self._recovered_batch is not None

    # -- disk -----------------------------------------------------------------------------------
    def _path(self, seq: int) -> Path:
        assert self.directory is not None
        return self.directory / f"{seq:016d}.otlp"

    def _write_burst(self, entries: list[Entry]) -> list[Exception | None]:
        """Each entry's file, written then renamed into place; runs in a thread, so it only reads the entries.
        Whatever keeps a file off the disk fails that entry alone (an error escaping here would leave its
        requests waiting for ever)."""
        errors: list[Exception | None] = []
        for entry in entries:
            assert entry.data is not None
            path = self._path(entry.seq)
            tmp = path.with_suffix(".tmp")
            try:
                with open(tmp, "wb") as f:
                    f.write(entry.items.to_bytes(8, "little"))
                    f.write(entry.data)
                    if self.fsync:
                        f.flush()
                        os.fsync(f.fileno())
                os.replace(tmp, path)
            except Exception as exc:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                errors.append(exc)
            else:
                errors.append(None)
        return errors

    def _read(self, seq: int) -> bytes:
        with open(self._path(seq), "rb") as f:
            f.seek(8)
            return f.read()

    def _write_marker(self, first: int, last: int) -> None:
        assert self.directory is not None
        tmp = self.directory / "inflight.tmp"
        tmp.write_text(json.dumps({"first": first, "last": last}))
        os.replace(tmp, self.directory / "inflight.json")

    def _recover(self) -> None:
        assert self.directory is not None
        for tmp in self.directory.glob("*.tmp"):
            tmp.unlink()  # never renamed into place: never acknowledged
        seqs = sorted(int(p.stem) for p in self.directory.glob("*.otlp"))
        for seq in seqs:
            path = self._path(seq)
            size = path.stat().st_size - 8
            with open(path, "rb") as f:
                items = int.from_bytes(f.read(8), "little")
            self._entries.append(Entry(seq, items, size, None))
            self._bytes += size
            self._items += items
        if seqs:
            self._next_seq = seqs[-1] + 1
        marker = self.directory / "inflight.json"
        if marker.exists():
            try:
                bounds = json.loads(marker.read_text())
                self._recovered_batch = (int(bounds["first"]), int(bounds["last"]))
            except (ValueError, KeyError, TypeError):
                self._recovered_batch = None
        if seqs:
            log.info("queue %s: recovered %d requests (%d items) from %s", self.name, len(seqs), self._items,
                     self.directory)


ExportFunc = Callable[[list[bytes], str], None]
"""Sends serialized OTLP requests with a deduplication token; raises RetryableError or PermanentError."""


class QueueObserver(Protocol):
    """Self-telemetry hooks (see `llmtap.collector.telemetry`)."""

    def export_result(self, queue: str, items: int, seconds: float, outcome: str) -> None: ...


class Sender:
    """Drains one queue into one export function: batching, retries with backoff and jitter."""

    def __init__(
        self,
        queue: BoundedQueue,
        export: ExportFunc,
        batch: BatchConfig,
        retry: RetryConfig,
        observer: QueueObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.queue = queue
        self.export = export
        self.batch = batch
        self.retry = retry
        self.observer = observer
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._draining = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"sender {self.queue.name}")

    async def stop(self, drain_timeout: float) -> None:
        """Export what is queued for up to `drain_timeout` seconds, then leave the rest queued."""
        if self._task is None:
            return
        self._draining = True
        self.queue.wake()
        drained = asyncio.get_running_loop().create_task(self._drained())
        try:
            await asyncio.wait_for(drained, drain_timeout)
        except asyncio.TimeoutError:
            log.warning("queue %s: %d requests left queued after %.1fs drain", self.queue.name, len(self.queue),
                        drain_timeout)
        self._stopping = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.queue.release()

    async def _drained(self) -> None:
        while len(self.queue):
            await asyncio.sleep(0.02)

    async def _run(self) -> None:
        while not self._stopping:
            if not self.queue.ready_items() and not self.queue.resuming:
                await self.queue.wait_changed(None if not self._draining else 0.05)
                continue
            await self._let_batch_grow()
            entries = self.queue.take(self.batch.max_items, self.batch.max_bytes)
            if not entries:
                continue
            await self._deliver(entries)

    async def _let_batch_grow(self) -> None:
        """Wait up to `flush_interval` for `min_items`; a batch that fills, or a drain that starts (shutdown),
        ends the wait at once instead of after the interval."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.batch.flush_interval
        while not self._draining and self.queue.ready_items() < self.batch.min_items:
            left = deadline - loop.time()
            if left <= 0:
                return
            await self.queue.wait_changed(left)

    async def _deliver(self, entries: list[Entry]) -> None:
        token = f"{self.queue.name}:{entries[0].seq}-{entries[-1].seq}"
        items = sum(e.items for e in entries)
        payloads = await asyncio.to_thread(self.queue.payloads, entries)
        started = self.clock()
        delay = self.retry.initial_interval
        while True:
            attempt_start = self.clock()
            try:
                await asyncio.to_thread(self.export, payloads, token)
            except RetryableError as exc:
                self._observe(items, attempt_start, "retry")
                elapsed = self.clock() - started
                if not self.retry.enabled or (self.retry.max_elapsed_time and elapsed > self.retry.max_elapsed_time):
                    log.error("queue %s: dropping %d items after %.0fs of retries: %s", self.queue.name, items,
                              elapsed, exc)
                    self._observe(items, attempt_start, "dropped")
                    self.queue.ack()
                    return
                jitter = 1 + self.retry.randomization_factor * (2 * random.random() - 1)
                wait = exc.retry_after if exc.retry_after is not None else delay * jitter
                log.warning("queue %s: export failed, retrying in %.1fs: %s", self.queue.name, wait, exc)
                await asyncio.sleep(wait)
                delay = min(delay * self.retry.multiplier, self.retry.max_interval)
                continue
            except PermanentError as exc:
                refused = items if exc.refused is None else sum(entries[i].items for i in exc.refused)
                log.error("queue %s: dropping %d of %d items, the backend refused them: %s", self.queue.name,
                          refused, items, exc)
                self._observe(refused, attempt_start, "dropped")
                if refused < items:
                    self._observe(items - refused, attempt_start, "success")
                self.queue.ack()
                return
            except Exception as exc:  # an exporter bug must not kill the loop; treat as retryable
                log.exception("queue %s: unexpected export error", self.queue.name)
                self._observe(items, attempt_start, "retry")
                await asyncio.sleep(min(delay, self.retry.max_interval))
                delay = min(delay * self.retry.multiplier, self.retry.max_interval)
                del exc
                continue
            self._observe(items, attempt_start, "success")
            self.queue.ack()
            return

    def _observe(self, items: int, started: float, outcome: str) -> None:
        if self.observer is not None:
            self.observer.export_result(self.queue.name, items, self.clock() - started, outcome)

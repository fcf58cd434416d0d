"""Bounded queues: capacity, write-ahead persistence, recovery, and the retrying sender."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from llmtap.collector.queue import (
    BatchConfig,
    BoundedQueue,
    PermanentError,
    QueueFullError,
    RetryableError,
    RetryConfig,
    Sender,
)


def test_capacity_is_bounded_in_bytes() -> None:
    q = BoundedQueue("q", max_bytes=100)
    q.put(b"x" * 60, 1)
    assert not q.has_room(50)
    with pytest.raises(QueueFullError):
        q.put(b"y" * 50, 1)
    assert q.has_room(40)
    q.take(10, 10**6)
    q.ack()
    assert q.size_bytes == 0
    q.put(b"z" * 500, 1)  # an empty queue takes one oversized request rather than refuse it for ever
    assert q.size_bytes == 500


def test_persistent_queue_recovers_unacknowledged_requests(tmp_path: Path) -> None:
    async def main() -> None:
        q = BoundedQueue("q", 10**6, tmp_path)
        for i in range(5):
            await _on_disk(q.put(f"request-{i}".encode(), items=i + 1))
        batch = q.take(max_items=3, max_bytes=10**6)  # items 1 + 2 fit, 3 would exceed
        assert [e.seq for e in batch] == [1, 2]
        assert q.ready_items() == 12 and q.size_items == 15, "the in-flight batch is not ready to take again"
        # crash here: the batch was in flight, nothing acknowledged
        q2 = BoundedQueue("q", 10**6, tmp_path)
        assert q2.size_items == 15 and len(q2) == 5 and q2.resuming
        again = q2.take(max_items=100, max_bytes=10**6)
        assert [e.seq for e in again] == [1, 2], "the in-flight batch is re-formed exactly, so its dedup token repeats"
        assert q2.payloads(again) == [b"request-0", b"request-1"]
        assert not q2.resuming and q2.ready_items() == 12
        q2.release()  # shutdown mid-batch: back at the head, all ready again
        assert q2.ready_items() == 15 and q2.resuming
        assert [e.seq for e in q2.take(max_items=100, max_bytes=10**6)] == [1, 2]
        q2.ack()
        assert q2.ready_items() == 12 and q2.size_items == 12
        q3 = BoundedQueue("q", 10**6, tmp_path)
        rest = q3.take(100, 10**6)
        assert q3.payloads(rest) == [b"request-2", b"request-3", b"request-4"]
        await _on_disk(q3.put(b"new", 1))
        assert q3._entries[-1].seq == 6, "sequence numbers continue after recovery"

    asyncio.run(main())


def test_half_written_file_is_ignored(tmp_path: Path) -> None:
    async def main() -> None:
        await _on_disk(BoundedQueue("q", 10**6, tmp_path).put(b"ok", 1))

    asyncio.run(main())
    (tmp_path / "0000000000000002.tmp").write_bytes(b"partial")
    q2 = BoundedQueue("q", 10**6, tmp_path)
    assert len(q2) == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_a_request_is_taken_for_export_only_once_on_disk(tmp_path: Path) -> None:
    async def main() -> None:
        q = BoundedQueue("q", 10**6, tmp_path)
        writes = [q.put(f"request-{i}".encode(), items=1) for i in range(20)]
        assert len(q) == 20 and q.size_items == 20, "queued (and counted against the capacity) at once"
        assert q.ready_items() == 0 and q.take(100, 10**6) == [], "written in a thread, not yet on disk"
        await _on_disk(writes[-1])
        assert all(w is not None and w.done() for w in writes), "written in the order they were put"
        assert q.ready_items() == 20
        batch = q.take(100, 10**6)
        assert [e.seq for e in batch] == list(range(1, 21))
        assert q.payloads(batch) == [f"request-{i}".encode() for i in range(20)], "read back from the files"
        assert sorted(p.name for p in tmp_path.glob("*.otlp")) == [f"{i:016d}.otlp" for i in range(1, 21)]

    asyncio.run(main())


def test_a_request_that_cannot_be_written_leaves_the_queue(tmp_path: Path) -> None:
    async def main() -> None:
        q = BoundedQueue("q", 10**6, tmp_path)
        (tmp_path / "0000000000000002.tmp").mkdir()  # the second request's file cannot be created
        writes = [q.put(f"request-{i}".encode(), items=i + 1) for i in range(3)]
        await _on_disk(writes[0])
        with pytest.raises(IsADirectoryError):
            await _on_disk(writes[1])
        await _on_disk(writes[2])
        assert len(q) == 2 and q.size_items == 1 + 3 and q.size_bytes == 2 * len(b"request-0")
        assert q.payloads(q.take(100, 10**6)) == [b"request-0", b"request-2"]

    asyncio.run(main())
    (tmp_path / "0000000000000002.tmp").rmdir()
    assert len(BoundedQueue("q", 10**6, tmp_path)) == 2


async def _on_disk(write: asyncio.Future[None] | None) -> None:
    assert write is not None, "a persistent queue's put returns its write"
    await write


async def _until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)


def _sender(q: BoundedQueue, export, **retry) -> Sender:  # type: ignore[no-untyped-def]
    return Sender(q, export, BatchConfig(min_items=1, flush_interval=0.01),
                  RetryConfig(initial_interval=0.01, max_interval=0.02, **retry))


def test_sender_retries_until_the_backend_is_back() -> None:
    async def main() -> tuple[list[list[bytes]], list[str], int]:
        q = BoundedQueue("q", 10**6)
        delivered: list[list[bytes]] = []
        tokens: list[str] = []
        failures = 3

        def export(payloads: list[bytes], token: str) -> None:
            nonlocal failures
            tokens.append(token)
            if failures:
                failures -= 1
                raise RetryableError("down")
            delivered.append(payloads)

        s = _sender(q, export)
        s.start()
        q.put(b"a", 1)
        q.put(b"b", 1)
        await _until(lambda: bool(delivered))
        await s.stop(1)
        return delivered, tokens, len(q)

    delivered, tokens, left = asyncio.run(main())
    assert delivered == [[b"a", b"b"]]
    assert len(set(tokens)) == 1 and len(tokens) == 4, "every retry of a batch carries the same token"
    assert left == 0


def test_sender_drops_permanent_failures_and_continues() -> None:
    async def main() -> list[bytes]:
        q = BoundedQueue("q", 10**6)
        delivered: list[bytes] = []

        def export(payloads: list[bytes], token: str) -> None:
            if payloads == [b"bad"]:
                raise PermanentError("400 bad request")
            delivered.extend(payloads)

        s = _sender(q, export)
        s.start()
        q.put(b"bad", 1)
        await asyncio.sleep(0.1)
        q.put(b"good", 1)
        await _until(lambda: bool(delivered))
        await s.stop(1)
        return delivered

    assert asyncio.run(main()) == [b"good"]


def test_a_partial_refusal_counts_only_the_refused_requests_as_dropped() -> None:
    class Observer:
        def __init__(self) -> None:
            self.outcomes: dict[str, int] = {}

        def export_result(self, queue: str, items: int, seconds: float, outcome: str) -> None:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + items

    async def main() -> tuple[dict[str, int], int]:
        q = BoundedQueue("q", 10**6)
        observer = Observer()

        def export(payloads: list[bytes], token: str) -> None:
            if b"bad" in payloads:  # the exporter delivered the others and names the one it could not
                raise PermanentError("1 refused", refused=[payloads.index(b"bad")])

        s = Sender(q, export, BatchConfig(min_items=3, flush_interval=0.05),
                   RetryConfig(initial_interval=0.01, max_interval=0.02), observer=observer)
        q.put(b"good-1", 5)
        q.put(b"bad", 7)
        q.put(b"good-2", 11)
        s.start()
        await _until(lambda: len(q) == 0)
        await s.stop(1)
        return observer.outcomes, len(q)

    outcomes, left = asyncio.run(main())
    assert outcomes == {"dropped": 7, "success": 16} and left == 0


def test_stop_leaves_undelivered_data_on_disk(tmp_path: Path) -> None:
    async def main() -> None:
        q = BoundedQueue("q", 10**6, tmp_path)

        def export(payloads: list[bytes], token: str) -> None:
            raise RetryableError("still down")

        s = _sender(q, export)
        s.start()
        q.put(b"keep me", 1)
        await asyncio.sleep(0.05)
        await s.stop(0.1)

    asyncio.run(main())
    q = BoundedQueue("q", 10**6, tmp_path)
    assert q.payloads(q.take(10, 10**6)) == [b"keep me"]


def test_a_drain_does_not_wait_for_a_small_batch_to_grow() -> None:
    """A batch below `min_items` waits up to `flush_interval` for more; stopping ends that wait, so a drain
    shorter than the interval still delivers it (before, it timed out and left the batch queued)."""
    async def main() -> tuple[list[bytes], int]:
        q = BoundedQueue("q", 10**6)
        delivered: list[bytes] = []

        def export(payloads: list[bytes], token: str) -> None:
            delivered.extend(payloads)

        s = Sender(q, export, BatchConfig(min_items=1000, flush_interval=3600), RetryConfig())
        s.start()
        q.put(b"small", 1)
        await asyncio.sleep(0.05)  # the sender is waiting for the batch to grow
        await s.stop(drain_timeout=5)
        return delivered, len(q)

    assert asyncio.run(main()) == ([b"small"], 0)


def test_a_batch_that_fills_is_sent_before_the_interval() -> None:
    async def main() -> list[list[bytes]]:
        q = BoundedQueue("q", 10**6)
        batches: list[list[bytes]] = []
        s = Sender(q, lambda payloads, token: batches.append(payloads),
                   BatchConfig(min_items=3, flush_interval=3600), RetryConfig())
        s.start()
        for part in (b"a", b"b", b"c"):
            q.put(part, 1)
            await asyncio.sleep(0.01)
        await _until(lambda: bool(batches), timeout=5)
        await s.stop(1)
        return batches

    assert asyncio.run(main()) == [[b"a", b"b", b"c"]]

"""The one timer the throughput benchmarks share: CPU time, best of several rounds (machines are noisy)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def best_cpu_seconds(items: Sequence[T], step: Callable[[T], object], rounds: int) -> float:
    """The least CPU time, over `rounds` rounds, that `step` took over all of `items`."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for item in items:
            step(item)
        best = min(best, time.process_time() - start)
    return best

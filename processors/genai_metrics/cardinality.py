"""Keeping a label's cardinality bounded: its N most frequent values, and `other` for the rest."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from llmtap import semconv


class TopValues:
    """Admits a label value if it was among the `top` most frequent in the previous window, or while there
    are free places; everything else is `other`. Counts stay bounded: past `10 * top` distinct values, the
    rarest half is forgotten. Totals summed over the label are exact either way. `roll` starts the next
    window when the clock says so (once per request: `label` runs per span)."""

    def __init__(self, top: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.top = top
        self.window = window
        self.clock = clock
        self.admitted: set[str] = set()
        self.counts: Counter[str] = Counter()
        self.window_end = clock() + window

    def roll(self) -> None:
        now = self.clock()
        if now >= self.window_end:
            self.admitted = {v for v, _ in self.counts.most_common(self.top)}
            self.counts.clear()
            self.window_end = now + self.window

    def label(self, value: str) -> str:
        if not value:
            return ""
        counts = self.counts
        counts[value] = counts.get(value, 0) + 1
        if len(counts) > 10 * self.top:
            self.counts = Counter(dict(self.counts.most_common(5 * self.top)))
        if value in self.admitted:
            return value
        if len(self.admitted) < self.top:
            self.admitted.add(value)
            return value
        return semconv.LLMTAP_OTHER

"""Admission control: how many bytes of requests a receiver holds at once.

Requests are processed on the event loop one after another, so a request waits behind every byte admitted
before it. Bounding those bytes bounds the receiver's memory and how long an acknowledgement can take:
under overload the excess is refused at once (429 / RESOURCE_EXHAUSTED, retry later) instead of waiting
until the client times out and sends again a request that was in fact taken (a duplicate).
"""

from __future__ import annotations


class Admission:
    """Bytes of requests admitted and not yet answered, against a limit shared by both transports."""

    __slots__ = ("in_flight", "limit")

    def __init__(self, limit: int):
        self.limit = limit
        self.in_flight = 0

    def resize(self, held: int, wanted: int) -> bool:
        """Change a request's share from `held` bytes (0 for a new request) to `wanted`; False, and nothing
        changed, if that goes over the limit (a request needs room for at least one byte). A request alone is
        always admitted, so one larger than the limit is not refused for ever (the body size limits still
        apply)."""
        others = self.in_flight - held
        if others and others + max(wanted, 1) > self.limit:
            return False
        self.in_flight = others + wanted
        return True

    def release(self, held: int) -> None:
        self.in_flight -= held

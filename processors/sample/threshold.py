"""Consistent probability sampling: the W3C trace-state `ot` entry (`th:` threshold, `rv:` randomness), as
OpenTelemetry's SDK and Collector implement it, and the SDK's older `TraceIdRatioBased` rule.

A trace's randomness R is 56 bits: `rv` from the trace state, else the trace id's low 56 bits. A threshold T
keeps it when R >= T, so T = 0 keeps everything and the probability is (2**56 - T) / 2**56.
"""

from __future__ import annotations

BITS = 56
MAX_THRESHOLD = 1 << BITS
_MASK = MAX_THRESHOLD - 1


def threshold_for(probability: float) -> int:
    return MAX_THRESHOLD - round(probability * MAX_THRESHOLD)


def probability_of(threshold: int) -> float:
    return (MAX_THRESHOLD - threshold) / MAX_THRESHOLD


def encode(threshold: int) -> str:
    """The `th` value: 14 hex digits without trailing zeros (`0` for keep-all)."""
    return f"{threshold:014x}".rstrip("0") or "0"


def decode(value: str) -> int | None:
    if not value or len(value) > 14:
        return None
    try:
        return int(value.ljust(14, "0"), 16)
    except ValueError:
        return None


def parse_ot(trace_state: str) -> tuple[dict[str, str], list[str]]:
    """The `ot` entry's sub-keys, and the other list members untouched."""
    ot: dict[str, str] = {}
    others: list[str] = []
    for member in trace_state.split(","):
        member = member.strip()
        if not member:
            continue
        key, _, value = member.partition("=")
        if key == "ot":
            for field in value.split(";"):
                k, _, v = field.partition(":")
                if k:
                    ot[k] = v
        else:
            others.append(member)
    return ot, others


def format_ot(ot: dict[str, str], others: list[str]) -> str:
    """The trace state with the `ot` entry first, as W3C asks of a changed entry."""
    members = [f"ot={';'.join(f'{k}:{v}' for k, v in ot.items())}"] if ot else []
    return ",".join(members + others)


def randomness(trace_id: bytes, ot: dict[str, str]) -> int:
    rv = ot.get("rv")
    if rv is not None and len(rv) == 14:
        try:
            return int(rv, 16)
        except ValueError:
            pass
    return int.from_bytes(trace_id[-7:], "big")


def incoming_threshold(ot: dict[str, str]) -> int:
    """The threshold applied upstream (0, keep-all, when none was recorded or it cannot be read)."""
    found = decode(ot.get("th", ""))
    return 0 if found is None else found


def combine(upstream: int, probability: float, proportional: bool) -> int:
    """The threshold after sampling at `probability` data already sampled at threshold `upstream`."""
    if proportional:
        return MAX_THRESHOLD - round((MAX_THRESHOLD - upstream) * probability)
    return max(upstream, threshold_for(probability))


def trace_id_ratio_keeps(trace_id: bytes, ratio: float) -> bool:
    """The SDK's `TraceIdRatioBased`: the trace id's low 64 bits below `round(ratio * 2**64)`."""
    return int.from_bytes(trace_id[-8:], "big") < round(ratio * (1 << 64))

"""Latency summaries shared by the load client and the cross-site probe."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0-100) of values sorted ascending; NaN when empty."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary_ms(seconds: Sequence[float]) -> dict[str, float | int]:
    """count, mean, p50, p90, p99 and max of durations given in seconds, reported in ms."""
    ordered = sorted(seconds)
    if not ordered:
        return {"count": 0}

    def ms(value: float) -> float:
        return round(value * 1000, 3)

    return {
        "count": len(ordered),
        "mean_ms": ms(sum(ordered) / len(ordered)),
        "p50_ms": ms(percentile(ordered, 50)),
        "p90_ms": ms(percentile(ordered, 90)),
        "p99_ms": ms(percentile(ordered, 99)),
        "max_ms": ms(ordered[-1]),
    }

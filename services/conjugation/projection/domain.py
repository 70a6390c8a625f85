"""What the conjugation service keeps of other aggregates' events (pure).

This site's batches (which exist, in which state, with which control recipe) and every site's
in-process results (the trend points of SPC).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KnownBatch:
    batch_id: str
    state: str  # e.g. "in_progress"
    product: str
    revision: int
    recipe: bytes | None  # the control recipe's protobuf form; only "created" carries it


@dataclass(frozen=True)
class TrendPoint:
    run_id: str
    attribute: str
    site: str
    product: str
    batch_id: str
    value: str
    unit: str
    record_time: str


def newer(candidate: KnownBatch, held: KnownBatch | None) -> bool:
    """Whether ``candidate`` is a later state of the batch than ``held``."""
    return held is None or candidate.revision > held.revision

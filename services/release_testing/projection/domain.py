"""What release testing keeps of batch events (pure): every site's batches, their product,
state and what is still open on them — a disposition reads it, a sample needs it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KnownBatch:
    batch_id: str
    home_site: str
    product: str  # only "created" carries the control recipe, and so the product
    state: str  # e.g. "in_progress", "approved"
    open_issues: tuple[str, ...]  # exceptions not dispositioned, deviations not closed
    revision: int


def newer(candidate: KnownBatch, held: KnownBatch | None) -> bool:
    """Whether ``candidate`` is a later state of the batch than ``held``."""
    return held is None or candidate.revision > held.revision

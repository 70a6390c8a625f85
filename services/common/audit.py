"""The audit trail: append-only, hash-chained entries, and its verification.

Each entry's hash covers its content and the previous entry's hash, so an edit, a deletion
or a reordering of any entry breaks the chain at that entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session, col

from services.common.tables import AuditEntryRow

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditChange:
    """What a use case records: who did what to which record, old → new, and why."""

    actor: str
    action: str
    aggregate_type: str
    aggregate_id: str
    old_value: str
    new_value: str
    reason: str = ""


@dataclass(frozen=True)
class ChainHead:
    sequence: int
    entry_hash: str


@dataclass(frozen=True)
class Verification:
    intact: bool
    entries_checked: int
    first_broken_sequence: int = 0
    problem: str = ""


def canonical_json(value: object) -> str:
    """The one JSON form of a value recorded in the trail (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(
    *,
    sequence: int,
    occur_time: str,
    site: str,
    actor: str,
    action: str,
    aggregate_type: str,
    aggregate_id: str,
    old_value: str,
    new_value: str,
    reason: str,
    previous_hash: str,
) -> str:
    content = canonical_json(
        [sequence, occur_time, site, actor, action, aggregate_type, aggregate_id,
         old_value, new_value, reason, previous_hash]
    )
    return hashlib.sha256(content.encode()).hexdigest()


AUDIT = AuditEntryRow.__table__  # type: ignore[attr-defined]
# Built once: its compiled form is reused by every group commit.
CHAIN_HEAD = (
    select(AUDIT.c.sequence, AUDIT.c.entry_hash).order_by(AUDIT.c.sequence.desc()).limit(1)
)


def chain_head(session: Session) -> ChainHead:
    last = session.execute(CHAIN_HEAD).first()
    if last is None:
        return ChainHead(0, GENESIS_HASH)
    return ChainHead(last[0], last[1])


def chain_entries(
    head: ChainHead, changes: Iterable[AuditChange], *, site: str, occur_time: str
) -> tuple[list[dict[str, object]], ChainHead]:
    """Rows for ``changes`` appended after ``head``, and the new head."""
    rows: list[dict[str, object]] = []
    sequence, previous = head.sequence, head.entry_hash
    for change in changes:
        sequence += 1
        fields = {
            "sequence": sequence,
            "occur_time": occur_time,
            "site": site,
            "actor": change.actor,
            "action": change.action,
            "aggregate_type": change.aggregate_type,
            "aggregate_id": change.aggregate_id,
            "old_value": change.old_value,
            "new_value": change.new_value,
            "reason": change.reason,
            "previous_hash": previous,
        }
        previous = entry_hash(**fields)  # type: ignore[arg-type]
        rows.append({**fields, "entry_hash": previous})
    return rows, ChainHead(sequence, previous)


def verify_rows(rows: Iterable[AuditEntryRow]) -> Verification:
    """Walks the chain in sequence order and reports the first entry that does not verify."""
    expected_sequence, previous, checked = 1, GENESIS_HASH, 0
    for row in rows:
        checked += 1
        if row.sequence != expected_sequence:
            return Verification(
                False, checked, expected_sequence,
                f"entry {expected_sequence} is missing (next present is {row.sequence})",
            )
        if row.previous_hash != previous:
            return Verification(
                False, checked, row.sequence,
                "previous_hash does not match the entry before it",
            )
        recomputed = entry_hash(
            sequence=row.sequence, occur_time=row.occur_time, site=row.site, actor=row.actor,
            action=row.action, aggregate_type=row.aggregate_type,
            aggregate_id=row.aggregate_id, old_value=row.old_value, new_value=row.new_value,
            reason=row.reason, previous_hash=row.previous_hash,
        )
        if recomputed != row.entry_hash:
            return Verification(
                False, checked, row.sequence, "entry_hash does not match the entry's content"
            )
        previous, expected_sequence = row.entry_hash, expected_sequence + 1
    return Verification(True, checked)


def chain_length(session: Session) -> int:
    """How many entries the trail holds (what a verification will read)."""
    return int(session.execute(select(func.count()).select_from(AUDIT)).scalar_one())


def verify_chain(
    session: Session, chunk: int = 2000, on_progress: Callable[[int], None] | None = None
) -> Verification:
    """Verifies the whole trail a page of ``chunk`` entries at a time; ``on_progress`` is told
    how many entries have been read after each page."""
    def rows() -> Iterable[AuditEntryRow]:
        after, read = 0, 0
        while True:
            page = session.exec(  # type: ignore[call-overload]
                select(AuditEntryRow)
                .where(col(AuditEntryRow.sequence) > after)
                .order_by(col(AuditEntryRow.sequence))
                .limit(chunk)
            ).scalars().all()
            if not page:
                return
            yield from page
            after = page[-1].sequence
            read += len(page)
            if on_progress is not None:
                on_progress(read)

    return verify_rows(rows())


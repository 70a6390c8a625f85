"""The audit trail: append-only, hash-chained entries, and its verification.

Each entry's hash covers its content and the previous entry's hash, so an edit, a deletion
or a reordering of any entry breaks the chain at that entry. The chain's head is anchored
outside the database: every event carries the audit sequence and entry hash of the change it
announces, so the stream witnesses the chain, and a deletion of the newest entries (which
leaves a shorter chain that still links) is told by comparing it with the newest witnessed head.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session, col

from services.common.persistence.tables import AuditEntryRow

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


@dataclass(frozen=True)
class WitnessedHead:
    """The newest chain head the stream holds, or why none could be read."""

    head: ChainHead | None
    note: str = ""


@dataclass(frozen=True)
class TrailStatus:
    """A verification of the whole trail, and the head the stream witnessed for it."""

    verification: Verification
    witnessed: WitnessedHead


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


def verify_rows(
    rows: Iterable[AuditEntryRow], witnessed: ChainHead | None = None
) -> Verification:
    """Walks the chain in sequence order and reports the first entry that does not verify.

    ``witnessed`` is the newest head the stream holds: the chain must reach it with the same
    hash. An unpublished tail (entries after it) is no fault: their events are still to go.
    """
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
        if (
            witnessed is not None and row.sequence == witnessed.sequence
            and row.entry_hash != witnessed.entry_hash
        ):
            return Verification(
                False, checked, row.sequence,
                f"entry {row.sequence} differs from the one the stream witnessed "
                f"(hash {witnessed.entry_hash})",
            )
        previous, expected_sequence = row.entry_hash, expected_sequence + 1
    last = expected_sequence - 1
    if witnessed is not None and witnessed.sequence > last:
        return Verification(
            False, checked, last + 1,
            f"entries after seq {last} missing: the stream witnessed seq "
            f"{witnessed.sequence} with hash {witnessed.entry_hash}",
        )
    return Verification(True, checked)


def entry_problem(row: AuditEntryRow, previous_hash: str | None) -> str:
    """What is wrong with one entry on its own ("" if nothing): its hash, and its link to the
    entry before it (``previous_hash`` is that entry's hash, None if it is missing)."""
    recomputed = entry_hash(
        sequence=row.sequence, occur_time=row.occur_time, site=row.site, actor=row.actor,
        action=row.action, aggregate_type=row.aggregate_type, aggregate_id=row.aggregate_id,
        old_value=row.old_value, new_value=row.new_value, reason=row.reason,
        previous_hash=row.previous_hash,
    )
    if recomputed != row.entry_hash:
        return "entry_hash does not match the entry's content"
    if previous_hash is None:
        return f"entry {row.sequence - 1} before it is missing"
    if row.previous_hash != previous_hash:
        return "previous_hash does not match the entry before it"
    return ""


def chain_length(session: Session) -> int:
    """How many entries the trail holds (what a verification will read)."""
    return int(session.execute(select(func.count()).select_from(AUDIT)).scalar_one())


def entries_of(session: Session, aggregate_id: str) -> int:
    """How many entries of the trail record changes of ``aggregate_id``."""
    return int(session.execute(
        select(func.count()).select_from(AUDIT).where(AUDIT.c.aggregate_id == aggregate_id)
    ).scalar_one())


def verify_chain(
    session: Session, chunk: int = 2000, on_progress: Callable[[int], None] | None = None,
    witnessed: ChainHead | None = None,
) -> Verification:
    """Verifies the whole trail a page of ``chunk`` entries at a time; ``on_progress`` is told
    how many entries have been read after each page; ``witnessed`` as in ``verify_rows``."""
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

    return verify_rows(rows(), witnessed)


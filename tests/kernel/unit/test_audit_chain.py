"""The hash chain detects an edit, a deletion and a reordering at the right entry."""

from __future__ import annotations

from services.common.persistence.audit import (
    GENESIS_HASH,
    AuditChange,
    ChainHead,
    chain_entries,
    verify_rows,
)
from services.common.persistence.tables import AuditEntryRow


def chain(count: int) -> list[AuditEntryRow]:
    changes = [
        AuditChange(actor="alice", action="x.changed", aggregate_type="x", aggregate_id=f"X{i}",
                    old_value="", new_value=f'{{"n":{i}}}', reason="")
        for i in range(count)
    ]
    rows, _ = chain_entries(ChainHead(0, GENESIS_HASH), changes, site="syracuse",
                            occur_time="2026-11-25T08:00:00.000000Z")
    return [AuditEntryRow(**row) for row in rows]  # type: ignore[arg-type]


def test_an_intact_chain_verifies() -> None:
    result = verify_rows(chain(5))
    assert (result.intact, result.entries_checked) == (True, 5)


def test_an_edit_is_reported_at_the_edited_entry() -> None:
    rows = chain(5)
    rows[2] = AuditEntryRow(**{**rows[2].model_dump(), "new_value": '{"n":99}'})
    result = verify_rows(rows)
    assert (result.intact, result.first_broken_sequence) == (False, 3)


def test_a_deletion_and_a_reordering_are_reported() -> None:
    rows = chain(5)
    assert verify_rows(rows[:2] + rows[3:]).first_broken_sequence == 3
    swapped = [rows[0], rows[2], rows[1], rows[3]]
    assert verify_rows(swapped).first_broken_sequence == 2

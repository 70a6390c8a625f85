"""The audit chain's head is anchored in the stream: truncating, editing or reordering the
newest entries in the database is reported through gRPC (issue 8, item 3)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from twinline.common.v1 import audit_pb2
from twinline.common.v1.audit_pb2_grpc import AuditTrailServiceStub
from typer.testing import CliRunner

from services.cli.app import app
from services.client.session import Session
from services.common.persistence.audit import entry_hash
from services.devstack.topology import BATCH_RECORDS
from tests.support.mbr import take_to_effective
from tests.support.stack import Stack, stack_fixture
from tests.support.waiting import wait_until

VERIFY = audit_pb2.VerifyAuditTrailRequest()
COLUMNS = (
    "sequence", "occur_time", "site", "actor", "action", "aggregate_type", "aggregate_id",
    "old_value", "new_value", "reason", "previous_hash",
)

# Only batch_records runs at each site: nothing here reads a site view.
batch_records_only = stack_fixture(services=[BATCH_RECORDS.name])


async def _five_entries_witnessed(stack: Stack) -> tuple[Session, AuditTrailServiceStub, Path]:
    """An effective record (five audit entries), all its events published."""
    author = await stack.login("syracuse", "author")
    reviewer = await stack.login("syracuse", "reviewer")
    qa = await stack.login("syracuse", "qa")
    await take_to_effective(author, reviewer, qa)
    audit = qa.stub(AuditTrailServiceStub)

    async def witnessed() -> audit_pb2.VerifyAuditTrailResponse | None:
        answer = await audit.VerifyAuditTrail(VERIFY, metadata=qa.metadata)
        return answer if answer.witnessed_sequence == 5 else None

    intact = await wait_until(witnessed, timeout=15, message="seq 5 witnessed by the stream")
    assert intact.intact and intact.entries_checked == 5 and not intact.witness_note
    database = stack.base_dir / "data" / "syracuse" / "batch_records.db"
    with sqlite3.connect(database) as connection:
        (hash_5,) = connection.execute(
            "SELECT entry_hash FROM audit_entry WHERE sequence = 5"
        ).fetchone()
    assert intact.witnessed_hash == hash_5
    return qa, audit, database


def _rehash_from(connection: sqlite3.Connection, first: int) -> None:
    """What a careful forger does: recompute every hash from ``first`` on, so the chain links."""
    previous = connection.execute(
        "SELECT entry_hash FROM audit_entry WHERE sequence = ?", (first - 1,)
    ).fetchone()[0]
    rows = connection.execute(
        f"SELECT {', '.join(COLUMNS)} FROM audit_entry WHERE sequence >= ? ORDER BY sequence",
        (first,),
    ).fetchall()
    for row in rows:
        fields = dict(zip(COLUMNS, row, strict=True))
        fields["previous_hash"] = previous
        previous = entry_hash(**fields)
        connection.execute(
            "UPDATE audit_entry SET previous_hash = ?, entry_hash = ? WHERE sequence = ?",
            (fields["previous_hash"], previous, fields["sequence"]),
        )


async def test_deleting_the_newest_entry_is_reported_as_a_truncation(stack: Stack) -> None:
    qa, audit, database = await _five_entries_witnessed(stack)
    with sqlite3.connect(database) as connection:
        witnessed_hash = connection.execute(
            "SELECT entry_hash FROM audit_entry WHERE sequence = 5"
        ).fetchone()[0]
        connection.execute("DELETE FROM audit_entry WHERE sequence = 5")
    broken = await audit.VerifyAuditTrail(VERIFY, metadata=qa.metadata)
    assert (broken.intact, broken.first_broken_sequence, broken.entries_checked) == (False, 5, 4)
    assert broken.problem == (
        f"entries after seq 4 missing: the stream witnessed seq 5 with hash {witnessed_hash}"
    )
    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM audit_entry WHERE sequence >= 3")
    shorter = await audit.VerifyAuditTrail(VERIFY, metadata=qa.metadata)
    assert (shorter.intact, shorter.first_broken_sequence) == (False, 3)
    assert shorter.problem.startswith("entries after seq 2 missing: the stream witnessed seq 5")
    env = {**stack.env("syracuse"), "TWINLINE_SITE": "syracuse"}
    cli = await asyncio.to_thread(
        CliRunner().invoke, app, ["audit", "verify", "--site", "syracuse"], env=env
    )
    assert cli.exit_code == 3, cli.output  # a check found a problem
    assert "entry 3 does not verify: entries after seq 2 missing: the stream witnessed seq 5" \
        in " ".join(cli.output.split())


async def test_editing_the_newest_entry_is_reported_even_with_its_hash_recomputed(
    stack: Stack,
) -> None:
    qa, audit, database = await _five_entries_witnessed(stack)
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE audit_entry SET reason = 'tidied' WHERE sequence = 5")
    plain = await audit.VerifyAuditTrail(VERIFY, metadata=qa.metadata)
    assert (plain.intact, plain.first_broken_sequence) == (False, 5)
    assert "content" in plain.problem
    with sqlite3.connect(database) as connection:
        _rehash_from(connection, 5)
    forged = await audit.VerifyAuditTrail(VERIFY, metadata=qa.metadata)
    assert (forged.intact, forged.first_broken_sequence) == (False, 5)
    assert forged.problem.startswith("entry 5 differs from the one the stream witnessed")
    listed = await audit.ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(), metadata=qa.metadata
    )
    assert [(e.sequence, e.verified) for e in listed.entries] == [
        (1, True), (2, True), (3, True), (4, True), (5, False),
    ]
    assert listed.entries[4].problem == "differs from the entry the stream witnessed"


async def test_reordering_the_newest_entries_is_reported(stack: Stack) -> None:
    qa, audit, database = await _five_entries_witnessed(stack)
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE audit_entry SET sequence = -4 WHERE sequence = 4")
        connection.execute("UPDATE audit_entry SET sequence = 4 WHERE sequence = 5")
        connection.execute("UPDATE audit_entry SET sequence = 5 WHERE sequence = -4")
    swapped = await audit.VerifyAuditTrail(VERIFY, metadata=qa.metadata)
    assert (swapped.intact, swapped.first_broken_sequence) == (False, 4)
    listed = await audit.ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(), metadata=qa.metadata
    )
    assert [e.verified for e in listed.entries] == [True, True, True, False, False]
    with sqlite3.connect(database) as connection:
        _rehash_from(connection, 4)
    forged = await audit.VerifyAuditTrail(VERIFY, metadata=qa.metadata)
    assert (forged.intact, forged.first_broken_sequence) == (False, 5)
    assert forged.problem.startswith("entry 5 differs from the one the stream witnessed")


async def test_a_deleted_middle_entry_is_marked_where_the_chain_breaks(stack: Stack) -> None:
    qa, audit, database = await _five_entries_witnessed(stack)
    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM audit_entry WHERE sequence = 3")
    listed = await audit.ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(), metadata=qa.metadata
    )
    assert [(e.sequence, e.verified, e.problem) for e in listed.entries] == [
        (1, True, ""), (2, True, ""), (4, False, "entry 3 before it is missing"), (5, True, ""),
    ]

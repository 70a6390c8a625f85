"""AuditTrailService: reads and verifies the audit trail of the service that mounts it.

Errors map as in every servicer (``rpc_method``): a domain error to its status, anything
unexpected to INTERNAL with a correlation id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import grpc
from sqlalchemy import Engine, select
from sqlmodel import Session, col
from twinline.common.v1 import audit_pb2, audit_pb2_grpc

from services.common.domain.clock import from_text
from services.common.grpc.auth import current_principal
from services.common.grpc.paging import decode_offset, encode_offset, page_of_messages, page_size_of
from services.common.grpc.rpc import rpc_method
from services.common.persistence.audit import (
    GENESIS_HASH,
    ChainHead,
    TrailStatus,
    Verification,
    WitnessedHead,
    entry_problem,
    verify_chain,
)
from services.common.persistence.database import read_session
from services.common.persistence.tables import AuditEntryRow

# The newest head the site's stream witnessed (services/common/messaging/audit_anchor.py).
Witness = Callable[[], Awaitable[WitnessedHead]]


async def unwitnessed() -> WitnessedHead:
    return WitnessedHead(None, "no stream configured")


async def verify_trail(engine: Engine, witness: Witness) -> TrailStatus:
    """Verifies the service's whole trail against the newest head its stream witnessed."""
    # The stream first, then the chain: whatever was published before is committed, so a
    # write racing this call can never look like a truncation.
    witnessed = await witness()

    def verify() -> Verification:
        with read_session(engine) as session:
            return verify_chain(session, witnessed=witnessed.head)

    return TrailStatus(await asyncio.to_thread(verify), witnessed)


class AuditTrailServicer(audit_pb2_grpc.AuditTrailServiceServicer):
    def __init__(self, engine: Engine, witness: Witness = unwitnessed) -> None:
        self._engine = engine
        self._witness = witness

    @rpc_method
    async def VerifyAuditTrail(
        self, request: audit_pb2.VerifyAuditTrailRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.VerifyAuditTrailResponse:
        current_principal()
        status = await verify_trail(self._engine, self._witness)
        result, witnessed = status.verification, status.witnessed
        head = witnessed.head
        return audit_pb2.VerifyAuditTrailResponse(
            intact=result.intact, entries_checked=result.entries_checked,
            first_broken_sequence=result.first_broken_sequence, problem=result.problem,
            witnessed_sequence=head.sequence if head else 0,
            witnessed_hash=head.entry_hash if head else "", witness_note=witnessed.note,
        )

    @rpc_method
    async def ListAuditEntries(
        self, request: audit_pb2.ListAuditEntriesRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.ListAuditEntriesResponse:
        current_principal()
        size = page_size_of(request.page_size, default=100, maximum=1000)
        after = decode_offset(request.page_token)
        query = select(AuditEntryRow).where(col(AuditEntryRow.sequence) > after)
        if request.aggregate_id:
            query = query.where(col(AuditEntryRow.aggregate_id) == request.aggregate_id)
        query = query.order_by(col(AuditEntryRow.sequence)).limit(size + 1)
        witnessed = (await self._witness()).head
        with read_session(self._engine) as session:
            rows = list(session.execute(query).scalars())
            before = _hashes(session, [row.sequence - 1 for row in rows[:size]])
        page = page_of_messages([_entry_proto(row, before, witnessed) for row in rows[:size]], size)
        response = audit_pb2.ListAuditEntriesResponse(entries=page)
        if len(rows) > len(page):
            response.next_page_token = encode_offset(rows[len(page) - 1].sequence)
        return response


def _hashes(session: Session, sequences: list[int]) -> dict[int, str]:
    """The entry hashes at ``sequences`` (the genesis hash at 0); absent ones are left out."""
    wanted = [sequence for sequence in sequences if sequence > 0]
    found = {0: GENESIS_HASH}
    if wanted:
        found.update(
            session.execute(
                select(AuditEntryRow.sequence, AuditEntryRow.entry_hash)  # type: ignore[call-overload]
                .where(col(AuditEntryRow.sequence).in_(wanted))
            ).tuples().all()
        )
    return found


def _entry_proto(
    row: AuditEntryRow, before: dict[int, str], witnessed: ChainHead | None
) -> audit_pb2.AuditEntry:
    problem = entry_problem(row, before.get(row.sequence - 1))
    if (
        not problem and witnessed is not None and witnessed.sequence == row.sequence
        and witnessed.entry_hash != row.entry_hash
    ):
        problem = "differs from the entry the stream witnessed"
    entry = audit_pb2.AuditEntry(
        verified=not problem, problem=problem,
        sequence=row.sequence, site=row.site, actor=row.actor, action=row.action,
        aggregate_type=row.aggregate_type, aggregate_id=row.aggregate_id,
        old_value=row.old_value, new_value=row.new_value, reason=row.reason,
        previous_hash=row.previous_hash, entry_hash=row.entry_hash,
    )
    entry.occur_time.FromDatetime(from_text(row.occur_time))
    return entry

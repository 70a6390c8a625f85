"""AuditTrailService: reads and verifies the audit trail of the service that mounts it.

Errors map as in every servicer (``rpc_method``): a domain error to its status, anything
unexpected to INTERNAL with a correlation id.
"""

from __future__ import annotations

import asyncio

import grpc
from sqlalchemy import Engine, select
from sqlmodel import col
from twinline.common.v1 import audit_pb2, audit_pb2_grpc

from services.common.audit import Verification, verify_chain
from services.common.auth import current_principal
from services.common.clock import from_text
from services.common.database import read_session
from services.common.paging import decode_offset, encode_offset, page_of_messages, page_size_of
from services.common.rpc import rpc_method
from services.common.tables import AuditEntryRow


class AuditTrailServicer(audit_pb2_grpc.AuditTrailServiceServicer):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _verify(self) -> Verification:
        with read_session(self._engine) as session:
            return verify_chain(session)

    @rpc_method
    async def VerifyAuditTrail(
        self, request: audit_pb2.VerifyAuditTrailRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.VerifyAuditTrailResponse:
        current_principal()
        result = await asyncio.to_thread(self._verify)
        return audit_pb2.VerifyAuditTrailResponse(
            intact=result.intact, entries_checked=result.entries_checked,
            first_broken_sequence=result.first_broken_sequence, problem=result.problem,
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
        with read_session(self._engine) as session:
            rows = list(session.execute(query).scalars())
        page = page_of_messages([_entry_proto(row) for row in rows[:size]], size)
        response = audit_pb2.ListAuditEntriesResponse(entries=page)
        if len(rows) > len(page):
            response.next_page_token = encode_offset(rows[len(page) - 1].sequence)
        return response


def _entry_proto(row: AuditEntryRow) -> audit_pb2.AuditEntry:
    entry = audit_pb2.AuditEntry(
        sequence=row.sequence, site=row.site, actor=row.actor, action=row.action,
        aggregate_type=row.aggregate_type, aggregate_id=row.aggregate_id,
        old_value=row.old_value, new_value=row.new_value, reason=row.reason,
        previous_hash=row.previous_hash, entry_hash=row.entry_hash,
    )
    entry.occur_time.FromDatetime(from_text(row.occur_time))
    return entry

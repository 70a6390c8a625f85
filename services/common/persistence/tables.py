"""Kernel tables held in every service database (schema: migrations/kernel)."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel


class AuditEntryRow(SQLModel, table=True):
    __tablename__ = "audit_entry"

    sequence: int = Field(primary_key=True)
    occur_time: str
    site: str
    actor: str
    action: str
    aggregate_type: str
    aggregate_id: str
    old_value: str
    new_value: str
    reason: str
    previous_hash: str
    entry_hash: str


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"

    position: int | None = Field(default=None, primary_key=True)
    event_id: str
    subject: str
    event_type: str
    headers: str
    payload: bytes
    created_time: str
    published_time: str | None = None


class InboxRow(SQLModel, table=True):
    __tablename__ = "inbox"

    event_id: str = Field(primary_key=True)
    subject: str
    stream_sequence: int = Field(sa_type=BigInteger)
    handled_time: str


class RequestRecordRow(SQLModel, table=True):
    __tablename__ = "request_record"

    request_id: str = Field(primary_key=True)
    method: str
    principal: str
    fingerprint: str
    response: bytes
    created_time: str

"""Tables of the batch records service (schema: services/batch_records/migrations)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class MasterBatchRecordRow(SQLModel, table=True):
    """One version of a master batch record; the full record is kept as its protobuf form."""

    __tablename__ = "master_batch_record"

    key: str = Field(primary_key=True)  # "SYR-MBR-000001/v1"
    record_id: str = Field(index=True)
    record_number: int
    version: int
    home_site: str
    product: str
    state: str
    document: bytes
    update_time: str

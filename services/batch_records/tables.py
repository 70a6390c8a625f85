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


class BatchRow(SQLModel, table=True):
    """An executed batch record; the full record is kept as its protobuf form."""

    __tablename__ = "batch"

    batch_id: str = Field(primary_key=True)  # "SYR-B-2026-00042"
    year: int
    number: int
    state: str
    document: bytes
    update_time: str


class EquipmentRow(SQLModel, table=True):
    """The site's equipment register."""

    __tablename__ = "equipment"

    equipment_id: str = Field(primary_key=True)
    description: str
    status: str


class TransferredMasterRow(SQLModel, table=True):
    """A master record version of another site, effective at this one because this site's QA
    accepted its transfer package (tech transfer's event); the version as it was sent."""

    __tablename__ = "transferred_master"

    key: str = Field(primary_key=True)  # "SYR-MBR-000001/v1"
    home_site: str  # the sending site, the record's own
    package: str  # "transferPackages/{id}"
    document: bytes
    effective_time: str

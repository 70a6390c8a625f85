"""Tables of the conjugation service (schema: services/conjugation/migrations)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class KnownBatchRow(SQLModel, table=True):
    """The projection of this site's batch events: which batches exist, and their state."""

    __tablename__ = "known_batch"

    batch_id: str = Field(primary_key=True)  # "SYR-B-2026-00042"
    state: str
    product: str
    # The batch's etag revision: an older or repeated event never overwrites a newer one.
    revision: int
    # The batch's control recipe (twinline.batchrecords.v1.MasterBatchRecord), for the limits.
    recipe: bytes


class RunRow(SQLModel, table=True):
    """A conjugation run; the full run is kept as its protobuf form."""

    __tablename__ = "conjugation_run"

    run_id: str = Field(primary_key=True)  # "SYR-CR-000001"
    number: int = Field(unique=True)
    batch_id: str = Field(index=True)
    phase: str
    document: bytes
    update_time: str


class TrendPointRow(SQLModel, table=True):
    """One in-process result of a run of any site, from the results events of every site."""

    __tablename__ = "trend_point"

    run_id: str = Field(primary_key=True)
    attribute: str = Field(primary_key=True)
    site: str
    product: str = Field(index=True)
    batch_id: str
    value: str  # Decimal as text
    unit: str
    record_time: str

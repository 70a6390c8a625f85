"""Tables of the site view (schema: services/site_view/migrations)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class ReplicaMasterBatchRecordRow(SQLModel, table=True):
    """The newest known state of one version of a master batch record of any site."""

    __tablename__ = "replica_master_batch_record"

    key: str = Field(primary_key=True)  # "SYR-MBR-000001/v1"
    record_id: str
    version: int
    home_site: str
    state: str
    revision: int
    # The MasterBatchRecord proto as the last applied event carried it: what Get returns.
    document: bytes
    last_event_time: str
    stream_sequence: int


class WatermarkRow(SQLModel, table=True):
    """How far the view has taken in one origin site's events."""

    __tablename__ = "watermark"

    site: str = Field(primary_key=True)
    last_event_time: str | None = None
    stream_sequence: int = 0
    events_applied: int = 0

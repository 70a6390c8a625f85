"""Tables of the conjugation service (schema: services/conjugation/migrations)."""

from __future__ import annotations

from sqlalchemy import BigInteger
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


class ReadingTagRow(SQLModel, table=True):
    """A tag declared on a run: its unit, limits and dwell, and its excursion machine."""

    __tablename__ = "reading_tag"

    run_id: str = Field(primary_key=True)
    tag: str = Field(primary_key=True)  # "R201.TT01"
    batch: str  # "batches/{batch_id}": where an excursion raises its exception
    description: str
    unit: str
    low_limit: float | None = None
    high_limit: float | None = None
    dwell_us: int = Field(sa_type=BigInteger)
    # The excursion machine's state (domain.excursions.ExcursionState) as JSON.
    state: str
    declare_time: str


class ReadingChunkRow(SQLModel, table=True):
    """Up to 4,096 points of one tag within 10 minutes: packed arrays (domain.chunks)."""

    __tablename__ = "reading_chunk"

    run_id: str = Field(primary_key=True)
    tag: str = Field(primary_key=True)
    chunk_start: int = Field(primary_key=True, sa_type=BigInteger)  # µs since the epoch
    chunk_end: int = Field(sa_type=BigInteger)  # its last point's time
    count: int
    times: bytes  # int64 µs, delta-encoded, little-endian
    values: bytes  # float64, little-endian
    qualities: bytes  # int8
    min: float
    max: float


class ReadingExcursionRow(SQLModel, table=True):
    """An excursion of a tag: started once its dwell was reached, ended back inside."""

    __tablename__ = "reading_excursion"

    run_id: str = Field(primary_key=True)
    tag: str = Field(primary_key=True)
    number: int = Field(primary_key=True)
    start_us: int = Field(sa_type=BigInteger)
    end_us: int | None = Field(default=None, sa_type=BigInteger)
    # Its API message (twinline.conjugation.v1.Excursion).
    document: bytes

"""Tables of the site view (schema: services/site_view/migrations)."""

from __future__ import annotations

from sqlalchemy import BigInteger
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
    stream_sequence: int = Field(sa_type=BigInteger)


class WatermarkRow(SQLModel, table=True):
    """How far the view has taken in one origin site's events."""

    __tablename__ = "watermark"

    site: str = Field(primary_key=True)
    last_event_time: str | None = None
    stream_sequence: int = Field(default=0, sa_type=BigInteger)
    events_applied: int = Field(default=0, sa_type=BigInteger)
    last_heartbeat_time: str | None = None
    origin_last_sequence: int = Field(default=0, sa_type=BigInteger)
    heartbeat_interval_us: int | None = Field(default=None, sa_type=BigInteger)


class ReplicaBatchRow(SQLModel, table=True):
    """The newest known state of one executed batch of any site."""

    __tablename__ = "replica_batch"

    batch_id: str = Field(primary_key=True)  # "SYR-B-2026-00042"
    home_site: str
    state: str  # "in_progress"; "unknown_<n>" for a state of a newer release
    revision: int = Field(sa_type=BigInteger)
    master_batch_record: str  # "masterBatchRecords/SYR-MBR-000001/versions/2"
    # The Batch proto as the last applied event carried it: what Get and List return.
    document: bytes
    last_event_time: str
    stream_sequence: int = Field(sa_type=BigInteger)


class ReplicaBatchMaterialRow(SQLModel, table=True):
    """One material lot added in a step of a replicated batch, as of the batch's newest state.

    Rewritten with its batch: the rows of a batch always come from one revision of it.
    """

    __tablename__ = "replica_batch_material"

    batch_id: str = Field(primary_key=True)
    # Order of the addition in the batch (recipe order of steps, then recorded order).
    line: int = Field(primary_key=True)
    home_site: str
    step_id: str
    material: str
    lot_id: str
    # Decimal as recorded, as text; with its UCUM unit.
    quantity: str
    unit: str


class ReplicaRunRow(SQLModel, table=True):
    """The newest known state of one conjugation run of any site."""

    __tablename__ = "replica_run"

    run_id: str = Field(primary_key=True)  # "SYR-CR-000001"
    home_site: str
    batch_id: str  # "SYR-B-2026-00042"
    phase: str  # "reduction"; "unknown_<n>" for a phase of a newer release
    revision: int = Field(sa_type=BigInteger)
    # The Run proto as the last applied event carried it: what Get and List return.
    document: bytes
    last_event_time: str
    stream_sequence: int = Field(sa_type=BigInteger)


class ReplicaLatestRow(SQLModel, table=True):
    """The newest point the view has taken in of one tag of a run of any site."""

    __tablename__ = "replica_latest"

    run_id: str = Field(primary_key=True)
    tag: str = Field(primary_key=True)  # "R201.TT01"
    # Source time, microseconds since the Unix epoch (UTC).
    time_us: int = Field(sa_type=BigInteger)
    value: float
    unit: str  # UCUM


class ReplicaSampleRow(SQLModel, table=True):
    """The newest known state of one sample, with its results, of any site's lab."""

    __tablename__ = "replica_sample"

    sample_id: str = Field(primary_key=True)  # "SYR-S-2026-00001"
    home_site: str  # the lab's site
    batch_id: str  # "SYR-B-2026-00042": the batch may be of another site
    revision: int = Field(sa_type=BigInteger)
    # The Sample proto (with its results) as the last applied event carried it.
    document: bytes
    last_event_time: str
    stream_sequence: int = Field(sa_type=BigInteger)


class ReplicaInvestigationRow(SQLModel, table=True):
    """The newest known state of one OOS investigation of any site."""

    __tablename__ = "replica_investigation"

    investigation_id: str = Field(primary_key=True)  # "SYR-OOS-2026-00001"
    home_site: str
    batch_id: str  # of the sample investigated
    state: str  # "phase_one"; "unknown_<n>" for a state of a newer release
    revision: int = Field(sa_type=BigInteger)
    # The Investigation proto as the last applied event carried it.
    document: bytes
    last_event_time: str
    stream_sequence: int = Field(sa_type=BigInteger)


class ReplicaDispositionRow(SQLModel, table=True):
    """One decision of QA on a batch of any site: written once, never changed."""

    __tablename__ = "replica_disposition"

    batch_id: str = Field(primary_key=True)  # "SYR-B-2026-00042"
    number: int = Field(primary_key=True)  # the n-th decision on the batch
    home_site: str
    decision: str  # "released"; "unknown_<n>" for a decision of a newer release
    # The Disposition proto as its event carried it.
    document: bytes
    last_event_time: str
    stream_sequence: int = Field(sa_type=BigInteger)


class ReplicaMasterEffectivityRow(SQLModel, table=True):
    """One site where a master record version of any site is effective: its home site while
    its own events say EFFECTIVE, and each site whose QA accepted its transfer (kept as first
    taken in)."""

    __tablename__ = "replica_master_effectivity"

    name: str = Field(primary_key=True)  # "masterBatchRecords/SYR-MBR-000001/versions/2"
    site: str = Field(primary_key=True)  # where it is effective
    home_site: str  # the version's
    package: str  # "transferPackages/SYR-TP-000001"; empty at the home site
    effective_time: str  # UTC text; at home as the record says, else the event's origin time
    stream_sequence: int = Field(sa_type=BigInteger)


class ReplicaTransferPackageRow(SQLModel, table=True):
    """A transfer package between any two sites, as the view knows it: the sending site's
    part from its ``package.*`` events, the receipt from the receiving site's ``receipt.*``
    events, each the newest by its own etag."""

    __tablename__ = "replica_transfer_package"

    package_id: str = Field(primary_key=True)  # "SYR-TP-000001"
    sending_site: str
    receiving_site: str
    # The newer part's state: "sent"; "unknown_<n>" for a receipt state of a newer release.
    state: str
    # The sending site's part: its etag and revision (0 before its first event), sent or not.
    sender_version: int = Field(sa_type=BigInteger)
    revision: int = Field(sa_type=BigInteger)
    sent: bool
    # The receipt: its etag and the package revision it is of (0 before the first event).
    receipt_version: int = Field(sa_type=BigInteger)
    receipt_revision: int = Field(sa_type=BigInteger)
    receipt_state: str  # empty before the first receipt event
    # The merged TransferPackage with that state: what Get and List return.
    document: bytes
    # Origin times of the events that carried the held parts (None before one).
    sender_event_time: str | None = None
    receipt_event_time: str | None = None
    stream_sequence: int = Field(sa_type=BigInteger)


class ChangeLogRow(SQLModel, table=True):
    """One replicated event the view took in (written in the transaction that applied it):
    what WatchChanges serves. Heartbeats and latest readings are not changes."""

    __tablename__ = "change_log"

    # Commit order, assigned by the one writer: the order WatchChanges serves (an integer
    # key, like the outbox's position: SQLite's rowid, PostgreSQL's SERIAL).
    position: int | None = Field(default=None, primary_key=True)
    # The event's sequence in this site's stream: the token a client resumes from.
    stream_sequence: int = Field(sa_type=BigInteger, unique=True)
    kind: str  # "batch"; see handlers.CHANGE_KINDS
    name: str  # "batches/SYR-B-2026-00042"
    home_site: str
    # The revision the event carries (0 for a disposition) and the etag (empty for one).
    revision: int = Field(sa_type=BigInteger)
    etag: str
    event_type: str  # "twinline.events.v1.BatchCreated"
    event_time: str  # CloudEvents time at the origin

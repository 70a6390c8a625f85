"""Tables of the tech transfer service (schema: services/tech_transfer/migrations)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class TransferPackageRow(SQLModel, table=True):
    """A package as this site knows it: its own part written here, the other site's part
    taken from that site's events; the whole kept as its protobuf form."""

    __tablename__ = "transfer_package"

    package_id: str = Field(primary_key=True)  # "SYR-TP-000001"
    number: int
    sending_site: str
    receiving_site: str
    document: bytes
    update_time: str


class KnownMasterRow(SQLModel, table=True):
    """This site's master record versions as their events tell (what it may send)."""

    __tablename__ = "known_master"

    name: str = Field(primary_key=True)  # "masterBatchRecords/SYR-MBR-000001/versions/1"
    state: str
    revision: int
    document: bytes


class ResultPointRow(SQLModel, table=True):
    """Every site's reviewed release-testing results, by product and attribute, as their
    sample events tell (the comparability of the sites' batches)."""

    __tablename__ = "result_point"

    result_name: str = Field(primary_key=True)  # "samples/{id}/results/{n}"
    product: str = Field(index=True)
    attribute: str
    batch_id: str  # "SDO-B-2026-00007": the batch's site code leads it
    value: str  # the reportable value, a decimal
    valid: bool  # reviewed and not invalidated

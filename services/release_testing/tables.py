"""Tables of the release testing service (schema: services/release_testing/migrations)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class SpecificationRow(SQLModel, table=True):
    """A specification version: this site's own (written here) and every other site's
    (replicas from their events); the full version is kept as its protobuf form."""

    __tablename__ = "specification"

    spec_id: str = Field(primary_key=True)  # "SYR-SP-000001"
    version: int = Field(primary_key=True)
    number: int  # the spec id's number, for this site's next one
    home_site: str
    product: str = Field(index=True)
    state: str
    revision: int
    document: bytes
    update_time: str


class SampleRow(SQLModel, table=True):
    """A sample: this site's (its lab's) and every other site's (replicas from events)."""

    __tablename__ = "sample"

    sample_id: str = Field(primary_key=True)  # "SYR-S-2026-00001"
    number: int  # per home site and year, for this site's next one
    home_site: str
    batch_id: str = Field(index=True)
    revision: int
    created_by: str
    document: bytes
    update_time: str


class KnownBatchRow(SQLModel, table=True):
    """Every site's batches as their events tell: product, state, what is still open."""

    __tablename__ = "release_batch"

    batch_id: str = Field(primary_key=True)  # "SDO-B-2026-00007"
    home_site: str
    product: str
    state: str  # e.g. "in_progress", "approved"
    # Exceptions not dispositioned and deviations not closed, e.g. "EX-1 DEV-2".
    open_issues: str
    revision: int


class InvestigationRow(SQLModel, table=True):
    """An OOS investigation: this site's and every other site's (replicas from events)."""

    __tablename__ = "investigation"

    investigation_id: str = Field(primary_key=True)  # "SYR-OOS-2026-00001"
    number: int
    home_site: str
    batch_id: str = Field(index=True)
    result_name: str = Field(index=True)  # "samples/{id}/results/{n}"
    state: str
    revision: int
    document: bytes
    update_time: str


class CertificateRow(SQLModel, table=True):
    """A sample's certificate of analysis: its data, its PDF and the PDF's SHA-256."""

    __tablename__ = "certificate"

    sample_id: str = Field(primary_key=True)
    home_site: str
    batch_id: str = Field(index=True)
    document: bytes  # twinline.releasetesting.v1.Certificate
    pdf: bytes
    pdf_sha256: str
    issue_time: str


class DispositionRow(SQLModel, table=True):
    """A QA decision on a batch of this site."""

    __tablename__ = "disposition"

    batch_id: str = Field(primary_key=True)
    number: int = Field(primary_key=True)
    decision: str
    document: bytes  # twinline.releasetesting.v1.Disposition
    decide_time: str


class ResultTrendRow(SQLModel, table=True):
    """Every site's reviewed results by product and attribute, in review order: the history
    a new result is charted against (out of trend). An index, rebuilt from the samples."""

    __tablename__ = "result_trend"

    result_name: str = Field(primary_key=True)  # "samples/{id}/results/{n}"
    batch_id: str
    product: str = Field(index=True)
    attribute: str
    method_id: str
    home_site: str
    value: str  # the reportable value, a decimal
    review_time: str
    valid: bool  # False once an investigation invalidated it

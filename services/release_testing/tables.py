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

"""A SHA-256 of the view's replicated state: equal for two views that took in the same stream,
however its events were fetched and whichever backend holds them (docs/architecture.md).

Included: every replica table (master record versions and where each is effective, batches
and their material lots, runs and their latest readings, samples, investigations,
dispositions, transfer packages), every column but the stream sequence. Left out, as this
view's own bookkeeping: the inbox, the change log, the watermarks (times and counts of what
was taken in, heartbeats) and every row's stream sequence.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import Table, select
from sqlmodel import Session

from services.site_view.tables import (
    ReplicaBatchMaterialRow,
    ReplicaBatchRow,
    ReplicaDispositionRow,
    ReplicaInvestigationRow,
    ReplicaLatestRow,
    ReplicaMasterBatchRecordRow,
    ReplicaMasterEffectivityRow,
    ReplicaRunRow,
    ReplicaSampleRow,
    ReplicaTransferPackageRow,
)

# Which table a column is local bookkeeping in, though the table is replicated state.
LOCAL_COLUMNS = frozenset({"stream_sequence"})
# By name: the order the digest takes them in.
REPLICA_TABLES: tuple[Table, ...] = tuple(sorted(
    (
        row.__table__  # type: ignore[attr-defined,union-attr]
        for row in (
            ReplicaMasterBatchRecordRow, ReplicaBatchRow, ReplicaBatchMaterialRow,
            ReplicaRunRow, ReplicaLatestRow, ReplicaSampleRow, ReplicaInvestigationRow,
            ReplicaDispositionRow, ReplicaMasterEffectivityRow, ReplicaTransferPackageRow,
        )
    ),
    key=lambda table: table.name,
))
ROWS_PER_READ = 1000


@dataclass(frozen=True)
class TableChecksum:
    table: str
    rows: int
    sha256: str  # lowercase hex


@dataclass(frozen=True)
class ViewChecksum:
    sha256: str  # lowercase hex, over the tables' lines "<table> <rows> <sha256>\n" in order
    tables: tuple[TableChecksum, ...]


def checked_columns(table: Table) -> list[str]:
    """The columns of ``table`` in the digest, by name."""
    return sorted(column.name for column in table.columns if column.name not in LOCAL_COLUMNS)


def _canonical(value: object) -> object:
    """A value as JSON can hold it exactly: bytes as hex, floats as their hex form."""
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, float):
        return float.hex(value)
    return value


def row_digest(columns: list[str], values: tuple[object, ...]) -> bytes:
    """SHA-256 of one row: a JSON object of its columns, keys sorted, compact, UTF-8."""
    document = {column: _canonical(value) for column, value in zip(columns, values, strict=True)}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).digest()


def table_checksum(session: Session, table: Table) -> TableChecksum:
    """SHA-256 of the table's name, its columns and its rows' digests in byte order: the order
    the backend returns rows in (collations differ) does not matter."""
    columns = checked_columns(table)
    statement = select(*(table.c[column] for column in columns))
    digests = sorted(
        row_digest(columns, tuple(row))
        for row in session.execute(statement.execution_options(yield_per=ROWS_PER_READ))
    )
    hasher = hashlib.sha256(f"{table.name}\n{','.join(columns)}\n".encode())
    for digest in digests:
        hasher.update(digest)
    return TableChecksum(table=table.name, rows=len(digests), sha256=hasher.hexdigest())


def view_checksum(session: Session) -> ViewChecksum:
    """The checksum of every replica table, read in the session's one transaction."""
    tables = tuple(table_checksum(session, table) for table in REPLICA_TABLES)
    lines = "".join(f"{table.table} {table.rows} {table.sha256}\n" for table in tables)
    return ViewChecksum(sha256=hashlib.sha256(lines.encode()).hexdigest(), tables=tables)

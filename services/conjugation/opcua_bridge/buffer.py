"""The store-and-forward buffer: points waiting for the service's acknowledgement, on disk.

A point leaves ``pending`` only when a StreamReadings call that carried it has returned OK, or
when the service refused it — then it moves to ``refused`` with the reason and stays there for
someone to look at. The same point (tag and source time) is held once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from services.conjugation.opcua_bridge.points import Point, PointQuality

SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tag TEXT NOT NULL, time_us INTEGER NOT NULL, value REAL NOT NULL,
    unit TEXT NOT NULL, quality INTEGER NOT NULL,
    UNIQUE (tag, time_us)
);
CREATE TABLE IF NOT EXISTS refused (
    id INTEGER PRIMARY KEY,
    tag TEXT NOT NULL, time_us INTEGER NOT NULL, value REAL NOT NULL,
    unit TEXT NOT NULL, quality INTEGER NOT NULL,
    reason TEXT NOT NULL, refused_at TEXT NOT NULL
);
"""
# SQLite's default limit of bound parameters per statement is far above this.
_IDS_PER_STATEMENT = 500


class Buffer:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def add(self, points: Iterable[Point]) -> int:
        """Holds the points not held yet; returns how many were new."""
        with self._transaction() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO pending (tag, time_us, value, unit, quality) "
                "VALUES (?, ?, ?, ?, ?)",
                [(p.tag, p.time_us, p.value, p.unit, int(p.quality)) for p in points],
            )
            return db.total_changes - before

    def oldest(self, limit: int) -> list[tuple[int, Point]]:
        rows = self._db.execute(
            "SELECT id, tag, time_us, value, unit, quality FROM pending ORDER BY id LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            (row[0], Point(row[1], row[2], row[3], row[4], PointQuality(row[5]))) for row in rows
        ]

    def acknowledge(self, ids: Sequence[int]) -> None:
        with self._transaction() as db:
            for chunk in _chunks(ids):
                db.execute(f"DELETE FROM pending WHERE id IN ({_marks(chunk)})", chunk)

    def refuse(self, ids: Sequence[int], reason: str) -> None:
        """Moves the points aside with the service's reason, in one transaction."""
        now = datetime.now(UTC).isoformat()
        with self._transaction() as db:
            for chunk in _chunks(ids):
                db.execute(
                    "INSERT INTO refused (id, tag, time_us, value, unit, quality, reason, "
                    f"refused_at) SELECT id, tag, time_us, value, unit, quality, ?, ? "
                    f"FROM pending WHERE id IN ({_marks(chunk)})",
                    (reason, now, *chunk),
                )
                db.execute(f"DELETE FROM pending WHERE id IN ({_marks(chunk)})", chunk)

    def pending_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM pending").fetchone()[0])

    def refused(self) -> list[tuple[Point, str]]:
        rows = self._db.execute(
            "SELECT tag, time_us, value, unit, quality, reason FROM refused ORDER BY id"
        ).fetchall()
        return [(Point(r[0], r[1], r[2], r[3], PointQuality(r[4])), r[5]) for r in rows]

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


def _chunks(ids: Sequence[int]) -> Iterable[tuple[int, ...]]:
    for start in range(0, len(ids), _IDS_PER_STATEMENT):
        yield tuple(ids[start:start + _IDS_PER_STATEMENT])


def _marks(chunk: Sequence[int]) -> str:
    return ", ".join("?" * len(chunk))

"""Chunks of one tag's points: packed arrays, merged by time with deduplication.

A chunk holds one tag's points in time order, at most CHUNK_POINTS of them within
CHUNK_SPAN_US of its start. Times are int64 microseconds since the Unix epoch, stored
delta-encoded (the first absolute, then each difference to the one before) in ``array('q')``;
values float64 ``array('d')``; qualities ``array('b')``; all little-endian whatever the
machine.

Each point belongs to the chunk with the greatest start at or before its time: so a time
already stored is found in one place, and a resent point is told from a new one.
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

CHUNK_POINTS = 4096
CHUNK_SPAN_US = 10 * 60 * 1_000_000
_SWAP = sys.byteorder != "little"


def _packed(values: array) -> bytes:  # type: ignore[type-arg]
    if _SWAP:
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _unpacked(typecode: str, data: bytes) -> array:  # type: ignore[type-arg]
    values = array(typecode)
    values.frombytes(data)
    if _SWAP:
        values.byteswap()
    return values


def encode_times(times: Sequence[int]) -> bytes:
    """Times (ascending) as the first time, then each delta to the previous one."""
    deltas = array("q", times)
    for index in range(len(deltas) - 1, 0, -1):
        deltas[index] -= deltas[index - 1]
    return _packed(deltas)


def decode_times(data: bytes) -> array:  # type: ignore[type-arg]
    times = _unpacked("q", data)
    for index in range(1, len(times)):
        times[index] += times[index - 1]
    return times


def encode_values(values: Sequence[float]) -> bytes:
    return _packed(array("d", values))


def decode_values(data: bytes) -> array:  # type: ignore[type-arg]
    return _unpacked("d", data)


def encode_qualities(qualities: Sequence[int]) -> bytes:
    return _packed(array("b", qualities))


def decode_qualities(data: bytes) -> array:  # type: ignore[type-arg]
    return _unpacked("b", data)


@dataclass(frozen=True)
class Packed:
    """A chunk as stored: its three packed arrays and what a reader filters on."""

    start_us: int
    end_us: int  # its last point's time
    count: int
    times: bytes
    values: bytes
    qualities: bytes
    low: float
    high: float

    @property
    def digest(self) -> str:
        """SHA-256 of the packed arrays (times, values, qualities), in hex: what the audit
        entry of a change of the chunk records."""
        return hashlib.sha256(self.times + self.values + self.qualities).hexdigest()


@dataclass
class Chunk:
    """One tag's points from ``start_us`` on, in time order, unpacked to be merged into."""

    start_us: int
    times: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    values: array = field(default_factory=lambda: array("d"))  # type: ignore[type-arg]
    qualities: array = field(default_factory=lambda: array("b"))  # type: ignore[type-arg]
    # What it was when loaded (None: new), and how many points this merge inserted into it.
    before: Packed | None = None
    added: int = 0

    @classmethod
    def of(cls, packed: Packed) -> Chunk:
        return cls(packed.start_us, decode_times(packed.times), decode_values(packed.values),
                   decode_qualities(packed.qualities), before=packed)

    def __len__(self) -> int:
        return len(self.times)

    def holds(self, time_us: int) -> bool:
        index = bisect_left(self.times, time_us)
        return index < len(self.times) and self.times[index] == time_us

    def room_for(self, time_us: int) -> bool:
        """Whether a new point at ``time_us`` (not before the start) may go in here."""
        return len(self.times) < CHUNK_POINTS and time_us - self.start_us < CHUNK_SPAN_US

    def insert(self, time_us: int, value: float, quality: int) -> None:
        if not self.times or time_us > self.times[-1]:  # the usual case: in time order
            self.times.append(time_us)
            self.values.append(value)
            self.qualities.append(quality)
        else:
            index = bisect_right(self.times, time_us)
            self.times.insert(index, time_us)
            self.values.insert(index, value)
            self.qualities.insert(index, quality)
        self.added += 1

    def split(self) -> Chunk:
        """Moves the later half into a new chunk starting at its first time; returns it."""
        middle = len(self.times) // 2
        later = Chunk(self.times[middle], self.times[middle:], self.values[middle:],
                      self.qualities[middle:])
        del self.times[middle:], self.values[middle:], self.qualities[middle:]
        return later

    def packed(self) -> Packed:
        return Packed(
            start_us=self.start_us, end_us=self.times[-1], count=len(self.times),
            times=encode_times(self.times), values=encode_values(self.values),
            qualities=encode_qualities(self.qualities), low=min(self.values),
            high=max(self.values),
        )

    @property
    def changed(self) -> bool:
        return self.before is None or self.added > 0 or self.before.count != len(self.times)


@dataclass
class Merged:
    """What merging a tag's new points did: the chunks changed, and what was new."""

    chunks: list[Chunk]
    stored: int
    duplicates: int
    # The indexes (into the points given) of the points stored for the first time.
    new: list[int]


class TagChunks:
    """The chunks of one tag that a merge may touch, ordered by start."""

    def __init__(self, chunks: Sequence[Packed]) -> None:
        self.chunks = sorted((Chunk.of(packed) for packed in chunks), key=lambda c: c.start_us)
        self._starts = [chunk.start_us for chunk in self.chunks]

    def _owner(self, time_us: int) -> int:
        """The index of the chunk a point at ``time_us`` belongs to, or -1 (before all)."""
        return bisect_right(self._starts, time_us) - 1

    def _add_chunk(self, at: int, chunk: Chunk) -> None:
        self.chunks.insert(at, chunk)
        self._starts.insert(at, chunk.start_us)

    def merge(
        self, times: Sequence[int], values: Sequence[float], qualities: Sequence[int]
    ) -> Merged:
        """Adds each point not already stored (same time), in the given order; a point whose
        time is stored already, or given twice, is a duplicate."""
        stored = duplicates = 0
        new: list[int] = []
        for index, time_us in enumerate(times):
            owner = self._owner(time_us)
            if owner >= 0 and self.chunks[owner].holds(time_us):
                duplicates += 1
                continue
            self._place(owner, time_us, values[index], qualities[index])
            stored += 1
            new.append(index)
        return Merged([chunk for chunk in self.chunks if chunk.changed], stored, duplicates, new)

    def _place(self, owner: int, time_us: int, value: float, quality: int) -> None:
        if owner < 0:  # before every chunk: a chunk of its own
            self._add_chunk(0, Chunk(time_us))
            owner = 0
        chunk = self.chunks[owner]
        if not chunk.room_for(time_us):
            if chunk.times[-1] < time_us or time_us - chunk.start_us >= CHUNK_SPAN_US:
                # After its last point, or beyond its span: a new chunk starts here.
                owner += 1
                self._add_chunk(owner, Chunk(time_us))
            else:  # inside a full chunk: split it, as a B-tree splits a full node
                later = chunk.split()
                self._add_chunk(owner + 1, later)
                if time_us >= later.start_us:
                    owner += 1
        self.chunks[owner].insert(time_us, value, quality)

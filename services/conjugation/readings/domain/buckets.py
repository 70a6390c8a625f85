"""Downsampling: a tag's points in buckets of one width, each its count, min, max and mean."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    start_us: int
    count: int
    min: float
    max: float
    mean: float


class Bucketing:
    """Buckets of ``width_us`` aligned on ``origin_us`` (bucket k spans origin + k·width
    ... origin + (k+1)·width), fed points in time order, chunk after chunk; a bucket is given
    out once a later point shows it complete, the last by ``finish``. Empty buckets are not
    given."""

    def __init__(self, width_us: int, origin_us: int = 0) -> None:
        if width_us <= 0:
            raise ValueError("a bucket has a positive width")
        self.width_us = width_us
        self.origin_us = origin_us
        self._start: int | None = None
        self._count = 0
        self._sum = 0.0
        self._min = 0.0
        self._max = 0.0

    def _start_of(self, time_us: int) -> int:
        return self.origin_us + (time_us - self.origin_us) // self.width_us * self.width_us

    def _done(self) -> Bucket:
        assert self._start is not None
        return Bucket(self._start, self._count, self._min, self._max, self._sum / self._count)

    def add(self, times: Sequence[int], values: Sequence[float]) -> list[Bucket]:
        """The buckets the points given complete."""
        completed: list[Bucket] = []
        end = None if self._start is None else self._start + self.width_us
        for time_us, value in zip(times, values, strict=True):
            if end is None or time_us >= end:
                if self._start is not None:
                    completed.append(self._done())
                self._start = self._start_of(time_us)
                end = self._start + self.width_us
                self._count, self._sum, self._min, self._max = 1, value, value, value
                continue
            self._count += 1
            self._sum += value
            if value < self._min:
                self._min = value
            elif value > self._max:
                self._max = value
        return completed

    def finish(self) -> list[Bucket]:
        if self._start is None:
            return []
        last = self._done()
        self._start = None
        return [last]


def buckets(
    points: Iterable[tuple[Sequence[int], Sequence[float]]], width_us: int, origin_us: int = 0
) -> Iterator[Bucket]:
    """Every bucket of the points given as (times, values) runs in time order."""
    bucketing = Bucketing(width_us, origin_us)
    for times, values in points:
        yield from bucketing.add(times, values)
    yield from bucketing.finish()

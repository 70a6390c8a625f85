"""A data change of an OPC UA node as a reading point (pure: no asyncua, no gRPC)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PointQuality(IntEnum):
    """The OPC UA status code's severity, as the readings service's Quality numbers it."""

    GOOD = 1
    UNCERTAIN = 2
    BAD = 3


@dataclass(frozen=True)
class Point:
    tag: str
    time_us: int
    value: float
    unit: str
    quality: PointQuality


class NotAReading(ValueError):
    """A value that is no number (a string, an array...): a node mapped by mistake."""


def quality_of(status_code: int) -> PointQuality:
    """OPC UA Part 4 §7.39: the top two bits of a StatusCode are its severity."""
    severity = (status_code >> 30) & 0b11
    if severity == 0:
        return PointQuality.GOOD
    if severity == 1:
        return PointQuality.UNCERTAIN
    return PointQuality.BAD


def time_us_of(moment: datetime) -> int:
    """Microseconds since the epoch; OPC UA's own clock is UTC, so a naive time is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def point_of(
    tag: str, unit: str, value: object, source_time: datetime, status_code: int
) -> Point:
    """The reading of one data change. A change of bad quality may carry no value, or NaN: it
    is sent as 0.0 of quality BAD (the service stores BAD points and never judges them)."""
    quality = quality_of(status_code)
    if isinstance(value, bool) or not isinstance(value, int | float):
        if quality is PointQuality.BAD and value is None:
            return Point(tag, time_us_of(source_time), 0.0, unit, quality)
        raise NotAReading(f"{tag}: {type(value).__name__} {str(value)[:40]!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        if quality is not PointQuality.GOOD:
            return Point(tag, time_us_of(source_time), 0.0, unit, PointQuality.BAD)
        raise NotAReading(f"{tag}: {number} is not a finite number")
    return Point(tag, time_us_of(source_time), number, unit, quality)

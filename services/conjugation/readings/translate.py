"""Protobuf ⇄ domain for process readings: tags, points, buckets and excursions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

from google.protobuf import duration_pb2, timestamp_pb2
from twinline.conjugation.v1 import readings_pb2 as pb

from services.common.domain.errors import Violations
from services.conjugation.readings.domain.buckets import Bucket
from services.conjugation.readings.domain.excursions import Ended, Started
from services.conjugation.readings.domain.ingest import Received
from services.conjugation.readings.domain.tags import Limits, Tag
from services.conjugation.readings.names import excursion_name
from services.conjugation.runs.names import run_name

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = 1_000_000


def duration_us(duration: duration_pb2.Duration, field: str, violations: Violations) -> int:
    if duration.seconds < 0 or duration.nanos < 0 or duration.nanos > 999_999_999:
        violations.add(field, "must not be negative")
        return 0
    return duration.seconds * US + duration.nanos // 1000


def duration_of(microseconds: int) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=microseconds // US, nanos=microseconds % US * 1000)


def timestamp_us(stamp: timestamp_pb2.Timestamp) -> int:
    return stamp.seconds * US + stamp.nanos // 1000


def timestamp_of(microseconds: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=microseconds // US, nanos=microseconds % US * 1000)


def moment_of(microseconds: int) -> datetime:
    return EPOCH + timedelta(microseconds=microseconds)


def limits_from_proto(tag: pb.Tag, violations: Violations) -> Limits:
    return Limits(
        low=tag.low_limit if tag.HasField("low_limit") else None,
        high=tag.high_limit if tag.HasField("high_limit") else None,
        dwell_us=duration_us(tag.dwell, "tag.dwell", violations),
    )


def tag_to_proto(tag: Tag) -> pb.Tag:
    message = pb.Tag(
        run=run_name(tag.run_id), tag=tag.tag, description=tag.description, unit=tag.unit,
        dwell=duration_of(tag.limits.dwell_us),
    )
    if tag.limits.low is not None:
        message.low_limit = tag.limits.low
    if tag.limits.high is not None:
        message.high_limit = tag.limits.high
    return message


def received_of(message: pb.StreamReadingsRequest) -> Received:
    """One ingest message's points, column by column."""
    points = message.points
    return Received(
        tags=[point.tag for point in points], times=[point.time_us for point in points],
        values=[point.value for point in points], units=[point.unit for point in points],
        qualities=[point.quality for point in points],
    )


def bucket_to_proto(bucket: Bucket) -> pb.Bucket:
    return pb.Bucket(start_us=bucket.start_us, count=bucket.count, min=bucket.min,
                     max=bucket.max, mean=bucket.mean)


def excursion_to_proto(tag: Tag, change: Started | Ended) -> pb.Excursion:
    """The excursion as it stands after ``change``."""
    message = pb.Excursion(
        run=run_name(tag.run_id), tag=tag.tag, start_time=timestamp_of(change.first_out_us),
        extreme_value=change.extreme, unit=tag.unit,
        name=excursion_name(tag.run_id, tag.tag, change.number),
    )
    if isinstance(change, Ended):
        message.end_time.CopyFrom(timestamp_of(change.end_us))
        message.duration.CopyFrom(duration_of(change.duration_us))
    else:
        message.duration.CopyFrom(duration_of(change.at_us - change.first_out_us))
    if tag.limits.low is not None:
        message.low_limit = tag.limits.low
    if tag.limits.high is not None:
        message.high_limit = tag.limits.high
    return message


# What one point or bucket adds to a page at most, serialized: a point's time as a packed
# varint (10 bytes when negative), its value (8) and its quality (1); a bucket's fields with
# their tags (49) and its own tag and length prefix.
POINT_BYTES = 19
BUCKET_BYTES = 58


def raw_pages(
    runs: Iterable[tuple[Sequence[int], Sequence[float], Sequence[int]]], unit: str,
    budget: int,
) -> Iterator[pb.ReadReadingsResponse]:
    """Pages of raw points, each under ``budget`` bytes serialized; at least one page."""
    per_page = max(1, (budget - len(unit) - 16) // POINT_BYTES)
    page = pb.ReadReadingsResponse(unit=unit)
    held = 0
    sent = False
    for times, values, qualities in runs:
        start = 0
        while start < len(times):
            take = min(per_page - held, len(times) - start)
            page.time_us.extend(times[start:start + take])
            page.values.extend(values[start:start + take])
            page.qualities.extend(qualities[start:start + take])  # type: ignore[arg-type]
            held += take
            start += take
            if held == per_page:
                yield page
                sent = True
                page, held = pb.ReadReadingsResponse(unit=unit), 0
    if held or not sent:
        yield page


def bucket_pages(
    groups: Iterable[Sequence[Bucket]], unit: str, budget: int
) -> Iterator[pb.ReadReadingsResponse]:
    """Pages of buckets, each under ``budget`` bytes serialized; at least one page."""
    per_page = max(1, (budget - len(unit) - 16) // BUCKET_BYTES)
    page = pb.ReadReadingsResponse(unit=unit)
    sent = False
    for group in groups:
        for bucket in group:
            page.buckets.append(bucket_to_proto(bucket))
            if len(page.buckets) == per_page:
                yield page
                sent = True
                page = pb.ReadReadingsResponse(unit=unit)
    if page.buckets or not sent:
        yield page
